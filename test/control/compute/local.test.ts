// A cluster member's named cluster ports under the local driver: reserved
// beside its client port, kept when allocated again (same id, same
// answer), added to an allocation that lacks them, and counted by the
// instance store so no other instance is given one.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { LocalDriver } from '../../../control/compute/local.js';
import { openDatabase } from '../../../control/db/database.js';
import { InstanceStore } from '../../../control/store/instances.js';
import { AGENT_BIN } from '../../support/agent.js';

const ID = '0b6c2d4e-0000-4000-8000-000000000002';
const GALERA = ['gmcast', 'ist', 'sst'];

t.test('cluster ports: reserved once per name, kept, added, and counted as used', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-ports-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const db = openDatabase(dataDir);
  t.teardown(() => db.close());
  const store = new InstanceStore(db);
  const log = createLogger({ name: 'test', level: 'silent' });
  const driver = new LocalDriver({ dataDir, runner: new ProcessRunner(log), log, agentBin: AGENT_BIN, usedPorts: () => store.usedPorts() });
  const plain = await driver.allocate(ID, { vcpus: 1, ramMb: 512, volumeGb: 1 }, null);
  t.equal(plain.clusterPorts, undefined, 'a standalone instance has no cluster ports');

  const member = await driver.allocate(ID, { vcpus: 1, ramMb: 512, volumeGb: 1, clusterPorts: GALERA }, plain);
  t.same(Object.keys(member.clusterPorts ?? {}).sort(), [...GALERA].sort(), 'one port per name');
  const agentPort = Number(member.agentAddress.split(':').pop());
  const all = [agentPort, member.datastorePort, ...Object.values(member.clusterPorts!)];
  t.equal(new Set(all).size, all.length, 'every port distinct');
  t.equal(member.datastorePort, plain.datastorePort, 'the client port kept');
  t.same(await driver.allocate(ID, { vcpus: 1, ramMb: 512, volumeGb: 1, clusterPorts: GALERA }, member), member, 'allocated again: the same answer');

  db.prepare('INSERT INTO projects (name, created_at) VALUES (?, ?)').run('p', Date.now());
  store.insert({ id: ID, project: 'p', name: 'm', datastore: 'mariadb', datastore_version: '10.11', flavor_id: 'small', volume_size_gb: 1, restored_from_backup_id: null });
  store.update(ID, { compute: JSON.stringify(member), port: member.datastorePort, agent_port: agentPort });
  const used = store.usedPorts();
  for (const p of all) t.ok(used.has(p), `port ${p} counted as used`);
});
