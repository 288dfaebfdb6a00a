// `make bench`: runs the selected suites in order (MariaDB, control,
// PostgreSQL, Redis, replication, cluster), printing each figure as it is taken and a summary at
// the end. Options come from the environment (options.ts). Figures are not
// assertions: targets are stated beside them, and docs/performance.md
// records runs.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { compileOptions, type Suite } from './options.js';
import { Teardown, cpuFlags, fmt, loadavg, type Row } from './harness.js';

const o = compileOptions(process.env);
const td = new Teardown();
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`bench: ${sig}, cleaning up`);
    void td.run().finally(() => process.exit(130));
  });
}

const suites: Record<Suite, () => Promise<Row[]>> = {
  mariadb: async () => (await import('./mariadb.js')).benchMariadb(o, td),
  control: async () => (await import('./control.js')).benchControl(o),
  postgres: async () => (await import('./postgres.js')).benchPostgres(o, td),
  redis: async () => (await import('./redis.js')).benchRedis(o, td),
  replication: async () => (await import('./replication.js')).benchReplication(o, td),
  cluster: async () => (await import('./cluster.js')).benchCluster(o, td),
  'redis-cluster': async () => (await import('./redis-cluster.js')).benchRedisCluster(o, td),
  'cluster-create': async () => (await import('./cluster-create.js')).benchClusterCreate(o, td),
  'object-store': async () => (await import('./object-store.js')).benchObjectStore(o, td),
  'heartbeats-net': async () => (await import('./heartbeats-net.js')).benchHeartbeatsNet(o, td),
  'agent-memory': async () => (await import('./agent-memory.js')).benchAgentMemory(o, td),
  pitr: async () => (await import('./pitr.js')).benchPitr(o, td),
  'pitr-mariadb': async () => (await import('./pitr-mariadb.js')).benchPitrMariadb(o, td),
  'pitr-restore': async () => (await import('./pitr-restore.js')).benchPitrRestore(o, td),
  'pitr-restore-mariadb': async () => (await import('./pitr-restore-mariadb.js')).benchPitrRestoreMariadb(o, td),
};

console.log(`bench: ${new Date().toISOString()} ${os.cpus().length} cores (${cpuFlags()}), load ${loadavg()}, options ${JSON.stringify(o)}`);
const rows: Row[] = [];
const failures: string[] = [];
for (const s of o.only) {
  try {
    rows.push(...(await suites[s]()));
  } catch (err) {
    failures.push(`${s}: ${(err as Error).stack ?? String(err)}`);
    console.error(`bench ${s} failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await td.run();
  }
}
console.log('\n# summary');
for (const r of rows) console.log(`${r.suite} | ${r.name} | ${fmt(r)} | load ${r.load} | cpu ${r.cpu} | ${r.at}`);
if (o.json) writeFileSync(o.json, JSON.stringify({ options: o, rows, failures }, null, 2));
if (failures.length) {
  console.error(`\n${failures.length} suite(s) failed:\n${failures.join('\n')}`);
  process.exitCode = 1;
}
