// Issue 18, PostgreSQL: WAL archiving under a steady write load. One
// agent-prepared PostgreSQL with archiving on (local storage, zstd,
// AES-256-GCM frames, parallelism 4, archive_timeout 60 s), pgbench
// (tpcb-like, 4 clients) for BENCH_PITR_SECONDS; the archive status is
// sampled every second: how many closed segments wait, how long the oldest
// has waited. Then how long archiving takes to catch up once the load
// stops. Rows: WAL written and archived per second, the worst lag and
// backlog under load, the catch-up time.
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { call } from '../support/agent.js';
import { psqlAdmin } from '../support/psql.js';
import { ArchiveServiceClient, type ArchiveStatus, type GetArchiveStatusResponse } from '../../proto/gen/coffer/agent/v1/archive.js';
import { PG_BIN } from './pg-bin.js';
import type { BenchOptions } from './options.js';
import { deployment, preparedAgent } from './agents.js';
import { benchRoot } from './workdir.js';
import { mbps, row, run, timed, type Row, type Teardown } from './harness.js';

const lsnValue = (lsn: string): number => {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
};

export async function benchPitr(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const S = 'pitr';
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-pitr-');
  const { agentArgs } = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'postgresql', agentArgs);
  const arc = new ArchiveServiceClient(a.address, credentials.createInsecure());
  td.teardown(() => arc.close());
  await call(arc, 'configureArchiving', { enabled: true, settings: { storage: undefined, keyId: '', archiveTimeoutSeconds: 60, parallelism: 4, compression: '', retentionDays: 0 } });
  const status = async (): Promise<ArchiveStatus> => (await call<object, GetArchiveStatusResponse>(arc, 'getArchiveStatus', {})).status!;
  const sql = async (q: string): Promise<string> => {
    const r = await psqlAdmin(a.baseDir, a.datastorePort, q, 'bench');
    if (r.code !== 0) throw new Error(`${q}: ${r.stderr}`);
    return r.stdout;
  };
  const conn = ['--host', path.join(a.baseDir, 'run'), '--port', String(a.datastorePort), '--username', 'coffer_admin'];
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  const created = await psqlAdmin(a.baseDir, a.datastorePort, 'CREATE DATABASE bench');
  if (created.code !== 0) throw new Error(created.stderr);
  await run([`${PG_BIN}/pgbench`, ...conn, '--initialize', `--scale=${o.pitrScale}`, '--init-steps=dtGvp', '--quiet', 'bench'], env);
  // The initial load's WAL archived first: the measurement starts level.
  await sql('SELECT pg_switch_wal()');
  for (;;) {
    if ((await status()).pendingCount === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }

  const startLsn = lsnValue(await sql('SELECT pg_current_wal_lsn()'));
  const archivedBefore = (await status()).archived?.latestPosition ?? '0/0';
  let maxPending = 0;
  let maxLag = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await status();
      maxPending = Math.max(maxPending, Number(s.pendingCount));
      maxLag = Math.max(maxLag, s.lagSeconds);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const load = await timed(() => run([`${PG_BIN}/pgbench`, ...conn, '--client=4', '--jobs=2', `--time=${o.pitrSeconds}`, '--no-vacuum', 'bench'], env));
  const endLsn = lsnValue(await sql('SELECT pg_current_wal_lsn()'));
  await sql('SELECT pg_switch_wal()');
  const catchUp = await timed(async () => {
    for (;;) {
      const s = await status();
      if (s.pendingCount === 0) return s;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  sampling = false;
  await sampler;
  const walBytes = endLsn - startLsn;
  const archivedBytes = lsnValue(catchUp.value.archived?.latestPosition ?? '0/0') - lsnValue(archivedBefore);
  rows.push(row({ suite: S, name: `WAL written under pgbench -c4 -j2 -T${o.pitrSeconds} (scale ${o.pitrScale})`, bytes: walBytes, seconds: load.seconds, mbps: mbps(walBytes, load.seconds), note: `${(walBytes / 16 / 1024 / 1024 / load.seconds).toFixed(2)} segments/s` }));
  rows.push(row({ suite: S, name: 'WAL archived (segments, compressed, encrypted, stored) during the load and its catch-up', bytes: archivedBytes, seconds: load.seconds + catchUp.seconds, mbps: mbps(archivedBytes, load.seconds + catchUp.seconds) }));
  rows.push(row({ suite: S, name: 'archive backlog under load (sampled each second)', note: `max ${maxPending} closed segments waiting, oldest waited at most ${maxLag.toFixed(1)} s (archive_timeout 60 s)` }));
  rows.push(row({ suite: S, name: 'catch-up after the load stopped (to nothing pending)', seconds: catchUp.seconds }));

  // A burst of WAL as fast as one session writes it (a bulk insert), to
  // see the archive's own throughput: the time until every segment of it
  // is archived, against the time the insert took.
  const before = lsnValue(await sql('SELECT pg_current_wal_lsn()'));
  const rowsN = o.pitrScale * 100_000;
  const burst = await timed(() => sql(`CREATE TABLE burst AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, ${rowsN}) g`));
  const after = lsnValue(await sql('SELECT pg_current_wal_lsn()'));
  await sql('SELECT pg_switch_wal()');
  const drained = await timed(async () => {
    for (;;) {
      if ((await status()).pendingCount === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  const burstBytes = after - before;
  rows.push(row({ suite: S, name: `WAL burst: CREATE TABLE AS ${rowsN} rows of 200 B, one session`, bytes: burstBytes, seconds: burst.seconds, mbps: mbps(burstBytes, burst.seconds) }));
  rows.push(row({ suite: S, name: 'the burst archived: from its start until nothing is pending', bytes: burstBytes, seconds: burst.seconds + drained.seconds, mbps: mbps(burstBytes, burst.seconds + drained.seconds), note: `archiving trailed the insert by ${drained.seconds.toFixed(1)} s` }));
  return rows;
}
