// Issue 12, replication: replica creation against doing it by hand with
// the same tools (MariaDB and PostgreSQL), the lag a replica's agent
// reports against the lag measured under a steady write load (also for
// Redis, lag only), and the
// time an automatic failover takes from kill -9 of a source to the first
// write its replica accepts. The parts are in replication/; BENCH_REPLICATION
// picks among them.
import type { BenchOptions } from './options.js';
import { fmt, type Row, type Teardown } from './harness.js';
import { benchRoot } from './workdir.js';
import { benchPki } from './replication/tls.js';

export async function benchReplication(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const failed: string[] = [];
  // Each part on its own: one failing does not lose the others' rows.
  for (const part of o.replication) {
    try {
      if (part === 'failover') {
        rows.push(...(await (await import('./replication/failover.js')).benchFailover(o, td)));
        continue;
      }
      const root = benchRoot(td, o, `coffer-bench-repl-${part}-`);
      const pki = benchPki(td, root);
      if (part === 'mariadb') rows.push(...(await (await import('./replication/mariadb-create.js')).benchMariadbReplicaCreation(o, td, root, pki)));
      if (part === 'postgres') rows.push(...(await (await import('./replication/postgres-create.js')).benchPostgresReplicaCreation(o, td, root, pki)));
      if (part === 'redis' && o.lagSeconds > 0) rows.push(...(await (await import('./replication/redis-lag.js')).benchRedisLag(o, td, root, pki)));
    } catch (err) {
      failed.push(`${part}: ${(err as Error).message}`);
      console.error(`bench replication ${part} failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await td.run();
    }
  }
  if (failed.length) {
    for (const r of rows) console.log(`${r.suite} | ${r.name} | ${fmt(r)} | load ${r.load} | ${r.at}`);
    throw new Error(`replication part(s) failed (their rows, and the others', are above): ${failed.join('; ')}`);
  }
  return rows;
}
