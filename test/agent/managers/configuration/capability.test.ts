// The configuration core with injected faults a real server and disk cannot
// produce on demand: persisting fails after the live change was made (the
// change is taken back), and the server refuses a value (nothing persisted).
// The same against real servers: test/agent/managers/configuration/{mariadb,postgresql,redis}.test.ts.
import t from 'tap';
import { createLogger } from '../../../../lib/logger.js';
import { Configuration, type ConfigurationApplier, type LiveChange } from '../../../../agent/managers/configuration/capability.js';
import { loadRules } from '../../../../strategies/configuration/rules.js';
import { REPO } from '../../../support/agent.js';
import path from 'node:path';

const rules = loadRules(path.join(REPO, 'strategies/configuration/rules/mariadb-10.11.json'));
const log = createLogger({ level: 'silent' });
const DEFAULTS: Record<string, string> = { max_connections: '151', wait_timeout: '28800' };

/** A server held in memory; `fail` injects the faults. */
function harness(fail: { write?: boolean; store?: boolean; live?: string } = {}) {
  const server: Record<string, string> = { ...DEFAULTS };
  const files: Array<Record<string, string>> = [];
  let stored: Record<string, string> = {};
  const applier: ConfigurationApplier = {
    async current(names) {
      return Object.fromEntries(names.filter((n) => n in server).map((n) => [n, server[n]!]));
    },
    async applyLive(changes: readonly LiveChange[]) {
      if (changes.some((c) => c.name === fail.live)) throw new Error(`injected: the server refuses ${fail.live}`);
      const before = { ...server };
      for (const c of changes) server[c.name] = c.value ?? DEFAULTS[c.name]!;
      return async () => {
        for (const c of changes) server[c.name] = before[c.name]!;
      };
    },
    async writeConfig(overrides) {
      if (fail.write) throw new Error('injected: the config file cannot be written');
      files.push({ ...overrides });
    },
  };
  const store = {
    get: () => ({ ...stored }),
    set: (v: Readonly<Record<string, string>>) => {
      if (fail.store) throw new Error('injected: the overrides store cannot be saved');
      stored = { ...v };
    },
  };
  return { server, files, store, configuration: new Configuration({ rules, store, applier, log }) };
}

t.test('injected: writing the config file fails, the live change is taken back', async (t) => {
  const h = harness({ write: true });
  await t.rejects(h.configuration.update({ max_connections: '321' }, false), { code: 'AGENT_ERR_INTERNAL' });
  t.equal(h.server.max_connections, '151', 'the running value is the old one');
  t.same(h.store.get(), {}, 'nothing stored');
});

t.test('injected: saving the overrides fails, the live change and the file are taken back', async (t) => {
  const h = harness({ store: true });
  await t.rejects(h.configuration.update({ max_connections: '321' }, false), { code: 'AGENT_ERR_INTERNAL' });
  t.equal(h.server.max_connections, '151', 'the running value is the old one');
  t.same(h.files.at(-1), {}, 'the config file rendered again without the change');
});

t.test('injected: the server refuses a value, nothing is persisted', async (t) => {
  const h = harness({ live: 'wait_timeout' });
  await t.rejects(h.configuration.update({ max_connections: '321', wait_timeout: '100' }, false), /injected/);
  t.same(h.files, [], 'no config file written');
  t.same(h.store.get(), {});
});

t.test('update, replace and reset report what changed and what waits for a restart', async (t) => {
  const h = harness();
  const r1 = await h.configuration.update({ max_connections: '321', performance_schema: 'on' }, false);
  t.same(r1.changes, [
    { name: 'max_connections', value: '321', appliedLive: true, restartRequired: false },
    { name: 'performance_schema', value: 'ON', appliedLive: false, restartRequired: true },
  ]);
  t.equal(r1.restartRequired, true);
  t.same(h.store.get(), { max_connections: '321', performance_schema: 'ON' });
  const r2 = await h.configuration.update({ wait_timeout: '100' }, true);
  t.same(r2.changes.map((c) => [c.name, c.value]), [['wait_timeout', '100'], ['max_connections', ''], ['performance_schema', '']]);
  t.equal(h.server.max_connections, '151', 'replaced away: back to the default');
  t.same(h.store.get(), { wait_timeout: '100' });
  const r3 = await h.configuration.reset();
  t.same(r3.changes.map((c) => c.name), ['wait_timeout']);
  t.same(h.store.get(), {});
  t.equal(h.server.wait_timeout, '28800');
});
