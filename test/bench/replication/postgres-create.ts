// Replica creation for PostgreSQL: by hand (postgres-by-hand.ts:
// pg_basebackup -R -X stream, start) against Coffer (coffer-clone-replica.ts:
// the replica's agent clones the source, as the control drives it),
// round after round on one source holding a pgbench dataset. Target:
// Coffer at most 1.3x the by-hand time.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { call, type AgentProcess } from '../../support/agent.js';
import { deployment } from '../agents.js';
import { pgbenchDataset } from '../postgres.js';
import type { BenchOptions } from '../options.js';
import { mbps, row, Teardown, type Row } from '../harness.js';
import { clonedReplicaByCoffer } from './coffer-clone-replica.js';
import { pgReplicaByHand } from './postgres-by-hand.js';
import { pgCaughtUp, pgSql, type PgServer } from './pg-sql.js';
import { timeRatioSummary } from './ratio.js';
import { lagNote, measureLag } from './lag.js';
import { pgLagProbe } from './lag-probes.js';
import { preparedTlsAgent, type BenchPki } from './tls.js';

const S = 'replication';
const TARGET = 1.3;

export const pgServerOf = (a: AgentProcess): PgServer => ({ socketDir: path.join(a.baseDir, 'run'), port: a.datastorePort });

const accounts = (s: PgServer) => pgSql(s, 'SELECT count(*) FROM pgbench_accounts', 'bench');

export async function benchPostgresReplicaCreation(o: BenchOptions, td: Teardown, root: string, pki: BenchPki): Promise<Row[]> {
  const rows: Row[] = [];
  const { agentArgs } = deployment(root);
  const source = await preparedTlsAgent(td, pki, path.join(root, 'src'), 'postgresql', agentArgs);
  const src = pgServerOf(source);
  const gen = await pgbenchDataset(source, o.sizeGb);
  rows.push(row({ suite: S, name: `PostgreSQL source dataset (pgbench --initialize --scale=${gen.scale})`, bytes: gen.bytes, seconds: gen.seconds, mbps: mbps(gen.bytes, gen.seconds), note: 'bytes = sum of pg_database_size' }));

  // The by-hand standbys' role, and a hostssl replication line for it ahead
  // of the agent's own lines (set-up, not timed).
  const hand = { user: 'bench_repl', password: randomBytes(18).toString('base64url') };
  await pgSql(src, `CREATE ROLE ${hand.user} REPLICATION LOGIN PASSWORD '${hand.password}'`);
  const hbaFile = path.join(source.baseDir, 'etc', 'pg_hba.conf');
  writeFileSync(hbaFile, `hostssl replication ${hand.user} 127.0.0.1/32 scram-sha-256\n${readFileSync(hbaFile, 'utf8')}`);
  await pgSql(src, 'SELECT pg_reload_conf()');
  const want = await accounts(src);

  const pairs: Array<{ hand: number; coffer: number }> = [];
  for (let r = 1; r <= o.rounds; r++) {
    const round = new Teardown();
    try {
      const dir = path.join(root, `hand-${r}`);
      const h = await pgReplicaByHand(round, dir, { ...src, tcpPort: source.datastorePort, ca: pki.ca, ...hand }, `bench_hand_${r}`);
      rows.push(row({ suite: S, name: `PostgreSQL standby by hand (pg_basebackup -R -X stream -C -S, postgres), round ${r}`, seconds: h.seconds, mbps: mbps(gen.bytes, h.seconds), note: `${h.phases}; MB/s of dataset bytes` }));
      await round.run();
      await pgSql(src, `SELECT pg_drop_replication_slot('${h.slot}')`);
      rmSync(dir, { recursive: true, force: true });

      const replicaId = randomUUID();
      const c = await clonedReplicaByCoffer(round, {
        source,
        sourceId: source.instanceId,
        datastore: 'postgresql',
        baseDir: path.join(root, `coffer-${r}`),
        pki,
        agentArgs,
        replicaId,
        password: randomBytes(18).toString('base64url'),
        caughtUp: (replica: AgentProcess) => pgCaughtUp(src, pgServerOf(replica)),
      });
      const got = await accounts(pgServerOf(c.agent));
      if (got !== want) throw new Error(`the Coffer replica's pgbench_accounts differs: source ${want} rows, replica ${got}`);
      pairs.push({ hand: h.seconds, coffer: c.seconds });
      rows.push(
        row({
          suite: S,
          name: `PostgreSQL replica by Coffer (AddReplicaAccess on the source agent, fresh agent Prepare with replica_of: pg_basebackup clone), round ${r}`,
          bytes: c.clonedBytes,
          seconds: c.seconds,
          mbps: mbps(gen.bytes, c.seconds),
          note: `${c.phases}; ${(c.seconds / h.seconds).toFixed(2)}x the by-hand time; bytes = what the clone copied (pg_basebackup --progress); pgbench_accounts rows equal the source's (${got})`,
        }),
      );
      if (r === o.rounds && o.lagSeconds > 0) {
        const lag = await measureLag(await pgLagProbe(src, pgServerOf(c.agent)), c.agent, { seconds: o.lagSeconds, everyMs: o.lagEveryMs });
        rows.push(row({ suite: S, name: `PostgreSQL replication lag, reported vs measured: a row holding its write time every ${o.lagEveryMs} ms for ${o.lagSeconds} s on the source, polled on the Coffer replica`, note: lagNote(lag, 'WAL bytes') }));
      }
      await c.agent.stop();
      await round.run();
      await call(source.clients.replication, 'removeReplicaAccess', { replicaId });
      rmSync(path.join(root, `coffer-${r}`), { recursive: true, force: true });
    } finally {
      await round.run();
    }
  }
  rows.push(row({ suite: S, name: 'PostgreSQL replica creation: Coffer vs by hand', note: timeRatioSummary(pairs, TARGET).text }));
  return rows;
}
