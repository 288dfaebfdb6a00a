// A log whose switch needs a restart of the datastore shows Restart Required
// until the restart, as Trove's did. No real switch needs one today (every
// one in the tables is dynamic), so this uses a fake configuration
// capability that reports the change as restart-only; the rest (the core,
// the files, the statuses) is real.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GuestLogs } from '../../../agent/logs/guest-logs.js';
import { LogStores } from '../../../agent/logs/log-store.js';
import { PublishedStore } from '../../../agent/logs/published.js';
import { booleanSwitch } from '../../../agent/logs/log-table.js';
import { createLogger } from '../../../lib/logger.js';
import type { ConfigurationCapability } from '../../../agent/managers/manager.js';

t.test('Restart Required (fake configuration: a switch that needs a restart)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-guest-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'audit.log');
  let overrides: Record<string, string> = {};
  let pending: string[] = [];
  const fake = {
    overrides: () => overrides,
    update: async (o: Record<string, string>) => {
      overrides = { ...overrides, ...o };
      return { changes: Object.keys(o).map((name) => ({ name, value: o[name]!, appliedLive: false, restartRequired: true })), restartRequired: true };
    },
  } as unknown as ConfigurationCapability;
  const logs = new GuestLogs({
    instanceId: 'i1',
    datastore: 'mariadb',
    logs: [{ name: 'audit', type: 'USER', file, switch: booleanSwitch('server_audit_logging') }],
    configuration: fake,
    pendingRestart: () => pending,
    markRestartRequired: (names) => (pending = [...pending, ...names]),
    requireRunning: () => undefined,
    published: new PublishedStore(path.join(dir, 'published.json')),
    stores: new LogStores({ keyFile: '', defaultStorage: 'local', storages: { local: { root: path.join(dir, 'backups') } } }),
    log: createLogger({ level: 'silent' }),
  });

  t.equal(logs.show('audit').status, 'Disabled');
  const r = await logs.setEnabled('audit', true);
  t.equal(r.restartRequired, true);
  t.same(pending, ['server_audit_logging'], 'the instance waits for a restart of that parameter');
  t.equal(r.log.status, 'Restart Required');
  writeFileSync(file, 'a line\n');
  t.equal(logs.show('audit').status, 'Restart Required', 'whatever is written meanwhile');
  pending = [];
  t.equal(logs.show('audit').status, 'Ready', 'after the restart: on, with a line to publish');
});
