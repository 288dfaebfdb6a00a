// Issue 18, PostgreSQL: restore to a time of a ~1 GB instance with
// BENCH_PITR_MINUTES of changes, through Coffer against the bare tools
// doing the same replay by hand.
//
// One agent-prepared PostgreSQL 15 with a pgbench dataset of BENCH_SIZE_GB
// (scale 69 for 1 GB), archiving on (local store, zstd, AES-256-GCM frames,
// parallelism 4, archive_timeout 60 s); pg_receivewal from a slot of its own
// keeps a plain WAL directory beside it (the operator's archive). A Coffer
// base backup (CreateBackup) and a bare one (`pg_basebackup -Ft -D -
// --wal-method=fetch | zstd -1 -T2 > file`), then pgbench at a fixed rate
// (-R) for the window. The target: a minute before the last commit.
//
//   Coffer: Prepare of a new agent from the base backup with the target (a
//           user's create with a restore point), timed to the first query.
//   Bare:   `zstd -d | tar -x` of the base into a new data directory,
//           recovery.signal, postgres with restore_command = 'cp WALDIR/%f
//           "%p"', recovery_target_time, recovery_target_action = promote,
//           timed to the first query after the promotion.
//
// Both must hold the same rows (pgbench_history count and sum, the
// accounts' balance sum). What Coffer adds beyond the replay: Prepare
// without a target (the base restore alone), and the agent's own fetch of
// every archived segment (verify whole, then decrypt and decompress: the
// code restore_command's socket runs) timed in this process.
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { call, startAgent, type AgentProcess } from '../support/agent.js';
import { psqlAdmin } from '../support/psql.js';
import { freePort } from '../support/ports.js';
import { lookupOsUser } from '../../lib/os-user.js';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { LocalStorage } from '../../strategies/storage/local.js';
import { loadWrappingKey } from '../../strategies/backup/key-file.js';
import { parseCatalogue, type ArchivedObject } from '../../strategies/archive/layout.js';
import { fetchArchived } from '../../agent/archive/fetch-object.js';
import { ArchiveServiceClient, type ArchiveStatus, type GetArchiveStatusResponse } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import { PG_BIN } from './pg-bin.js';
import type { BenchOptions } from './options.js';
import { createBackup, deployment, prepareFromBackup, preparedAgent } from './agents.js';
import { pgbenchDataset } from './postgres.js';
import { startDaemon, until } from './replication/daemon.js';
import { pgSql, type PgServer } from './replication/pg-sql.js';
import { benchRoot } from './workdir.js';
import { loadWindow } from './load-window.js';
import { mbps, row, run, runPipeline, timed, type Row, type Teardown } from './harness.js';

const S = 'pitr-restore';

const lsnValue = (lsn: string): number => {
  const [hi, lo] = lsn.trim().split('/');
  return parseInt(hi!, 16) * 2 ** 32 + parseInt(lo!, 16);
};
const isoUtc = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, '+00');

/** What both restored servers must agree on (and the source, up to the target). */
const CHECK = 'SELECT count(*) || \',\' || coalesce(sum(delta), 0) FROM pgbench_history';
const CHECK_ACCOUNTS = 'SELECT sum(abalance) FROM pgbench_accounts';

export async function benchPitrRestore(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-pitr-restore-');
  const d = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'postgresql', d.agentArgs);
  const sql = async (q: string, db = 'bench'): Promise<string> => {
    const r = await psqlAdmin(a.baseDir, a.datastorePort, q, db);
    if (r.code !== 0) throw new Error(`${q}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const conn = ['--host', path.join(a.baseDir, 'run'), '--port', String(a.datastorePort), '--username', 'coffer_admin'];
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };

  const ds = await pgbenchDataset(a, o.sizeGb);
  rows.push(row({ suite: S, name: `dataset: pgbench --initialize --scale=${ds.scale}`, bytes: ds.bytes, seconds: ds.seconds, note: 'bytes = sum of pg_database_size' }));

  const arc = new ArchiveServiceClient(a.address, credentials.createInsecure());
  td.teardown(() => arc.close());
  await call(arc, 'configureArchiving', { enabled: true, settings: { storage: undefined, keyId: '', archiveTimeoutSeconds: 60, parallelism: 4, compression: '', retentionDays: 0 } });
  const status = async (): Promise<ArchiveStatus> => (await call<object, GetArchiveStatusResponse>(arc, 'getArchiveStatus', {})).status!;

  // The operator's plain WAL archive: pg_receivewal from a slot of its own.
  const walDir = path.join(root, 'wal');
  mkdirSync(walDir, { mode: 0o755 });
  await run([`${PG_BIN}/pg_receivewal`, ...conn, '--directory', walDir, '--slot=bench_wal', '--create-slot', '--if-not-exists'], env);
  const receiver = startDaemon(td, [`${PG_BIN}/pg_receivewal`, ...conn, '--directory', walDir, '--slot=bench_wal'], { log: path.join(root, 'pg_receivewal.log'), env, stopSignal: 'SIGINT' });

  const full: BackupArtifact = await createBackup(a, 'pitr-restore-base');
  const baseFile = path.join(root, 'base.tar.zst');
  await runPipeline([{ argv: [`${PG_BIN}/pg_basebackup`, ...conn, '--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast', '--label=bench'], env }, { argv: ['zstd', '-1', '-T2', '-c', '-q'] }], baseFile);
  const startLsn = lsnValue(full.metadata!.stopLsn);

  // The changes: pgbench at a fixed rate for the window.
  const seconds = Math.round(o.pitrRestoreMinutes * 60);
  const lw = loadWindow();
  const load = await timed(() => run([`${PG_BIN}/pgbench`, ...conn, '--client=4', '--jobs=2', `--rate=${o.pitrRate}`, `--time=${seconds}`, '--no-vacuum', 'bench'], env));
  const loadNote = lw.stop();
  const endLsn = lsnValue(await sql('SELECT pg_current_wal_lsn()'));
  const lastSegment = await sql('SELECT pg_walfile_name(pg_current_wal_lsn())');
  const lastCommit = Number(await sql('SELECT floor(extract(epoch FROM max(mtime)))::bigint FROM pgbench_history'));
  const back = Math.min(60, Math.floor(seconds / 3));
  const target = lastCommit - back;
  await sql('SELECT pg_switch_wal()');
  // The instance's archive (storage undefined: <instance id>/archive beside its backups).
  const catalogueFile = (): string | undefined => readdirSync(d.backupDir).map((x) => path.join(d.backupDir, x, 'archive', 'catalogue.json')).find((f) => existsSync(f));
  const archivedNames = (): string[] => {
    const f = catalogueFile();
    return f ? parseCatalogue(readFileSync(f, 'utf8'), f).objects.map((x) => x.name) : [];
  };
  await until(`the archive to hold ${lastSegment}`, async () => (archivedNames().includes(lastSegment) && (await status()).pendingCount === 0 ? true : undefined), 600_000, 500);
  await until(`pg_receivewal to complete ${lastSegment}`, async () => (readdirSync(walDir).includes(lastSegment) ? true : undefined), 600_000, 500);
  await receiver.stop();
  await run(['chown', '-R', 'postgres:postgres', walDir]);
  const want = await sql(`SELECT count(*) || ',' || coalesce(sum(delta), 0) FROM pgbench_history WHERE mtime <= '${isoUtc(target)}'`);

  const catalogue = parseCatalogue(readFileSync(catalogueFile()!, 'utf8'), 'catalogue.json');
  const wal = catalogue.objects;
  const walRaw = wal.reduce((s, x) => s + x.rawBytes, 0);
  const walStored = wal.reduce((s, x) => s + x.storedBytes, 0);
  rows.push(
    row({ suite: S, name: `changes: pgbench -c4 -j2 -R${o.pitrRate} -T${seconds} (tpcb-like) after the base backup`, bytes: endLsn - startLsn, seconds: load.seconds, mbps: mbps(endLsn - startLsn, load.seconds), note: `WAL from the backup's stop LSN to the load's end; ${loadNote}` }),
    row({ suite: S, name: 'the archive behind it', bytes: walRaw, note: `${wal.length} segments archived, ${(walStored / 1e6).toFixed(1)} MB stored (zstd, encrypted); plain WAL directory ${readdirSync(walDir).length} files` }),
  );

  // Coffer: Prepare with the target, to the first query.
  const prepare = (agent: AgentProcess, withTarget: boolean) =>
    timed(async () => {
      const events = await prepareFromBackup(agent, full, withTarget ? target : undefined);
      const q = await psqlAdmin(agent.baseDir, agent.datastorePort, 'SELECT 1');
      if (q.code !== 0) throw new Error(`first query: ${q.stderr}`);
      const fetched = events.map((e) => /\((\d+) fetched\)/.exec(e.progress?.message ?? '')?.[1]).filter(Boolean).map(Number);
      return { fetched: Math.max(0, ...fetched) };
    });
  const b = await startAgent(td, { baseDir: path.join(root, 'b'), datastore: 'postgresql', extraArgs: d.agentArgs });
  const lwC = loadWindow(10_000);
  const coffer = await prepare(b, true);
  const cofferLoad = lwC.stop();
  const bSql = async (q: string): Promise<string> => {
    const r = await psqlAdmin(b.baseDir, b.datastorePort, q, 'bench');
    if (r.code !== 0) throw new Error(`${q}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const gotCoffer = [await bSql(CHECK), await bSql(CHECK_ACCOUNTS)];

  // Bare: the base's files, restore_command from the plain directory, promote.
  const pg = lookupOsUser('postgres');
  const asPg = { uid: pg.uid, gid: pg.gid };
  const bare = path.join(root, 'bare');
  const data = path.join(bare, 'data');
  for (const [dir, mode] of [[bare, 0o755], [path.join(bare, 'run'), 0o755], [data, 0o700]] as const) {
    mkdirSync(dir, { mode });
    chownSync(dir, pg.uid, pg.gid);
  }
  const hba = path.join(bare, 'pg_hba.conf');
  const ident = path.join(bare, 'pg_ident.conf');
  writeFileSync(hba, 'local all coffer_admin peer map=bench\n', { mode: 0o644 });
  writeFileSync(ident, 'bench root coffer_admin\n', { mode: 0o644 });
  const server: PgServer = { socketDir: path.join(bare, 'run'), port: await freePort() };
  const lwB = loadWindow(10_000);
  const phases: string[] = [];
  const t0 = performance.now();
  const mark = (name: string) => phases.push(`${name} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  await runPipeline([{ argv: ['zstd', '-d', '-c', '-q', baseFile] }, { argv: ['tar', '-x', '-C', data], ...asPg }], null);
  writeFileSync(path.join(data, 'recovery.signal'), '', { mode: 0o600 });
  chownSync(path.join(data, 'recovery.signal'), pg.uid, pg.gid);
  mark('zstd -d | tar -x');
  startDaemon(
    td,
    [
      `${PG_BIN}/postgres`, '-D', data,
      '-c', `port=${server.port}`, '-c', 'listen_addresses=', '-c', `unix_socket_directories=${server.socketDir}`, '-c', `hba_file=${hba}`, '-c', `ident_file=${ident}`,
      '-c', `restore_command=cp ${walDir}/%f "%p"`, '-c', `recovery_target_time=${isoUtc(target)}`, '-c', 'recovery_target_inclusive=on', '-c', 'recovery_target_action=promote', '-c', 'recovery_target_timeline=current',
    ],
    { log: path.join(bare, 'postgres.log'), ...asPg, env: { ...process.env, HOME: pg.home }, stopSignal: 'SIGINT' },
  );
  await until('the by-hand server to promote', async () => ((await pgSql(server, 'SELECT pg_is_in_recovery()')) === 'f' ? true : undefined), 3_600_000, 100);
  mark('replayed, promoted, first query');
  const bareSeconds = (performance.now() - t0) / 1000;
  const bareLoad = lwB.stop();
  const gotBare = [await pgSql(server, CHECK, 'bench'), await pgSql(server, CHECK_ACCOUNTS, 'bench')];
  if (gotCoffer.join('|') !== gotBare.join('|')) throw new Error(`restore to ${isoUtc(target)}: Coffer has ${gotCoffer.join(' / ')}, the bare replay ${gotBare.join(' / ')}`);

  // What Coffer adds: the base restore alone, and its fetch of the archive.
  const c = await startAgent(td, { baseDir: path.join(root, 'c'), datastore: 'postgresql', extraArgs: d.agentArgs });
  const plain = await prepare(c, false);
  const log = createLogger({ level: 'warn' });
  const deps = { store: new LocalStorage({ root: d.backupDir }), wrappingKey: loadWrappingKey(path.join(root, 'backup.key')), runner: new ProcessRunner(log), log };
  // The segments the replay needs: from the one holding the backup's stop
  // LSN to the first holding a commit after the target (where it stops).
  const needed: ArchivedObject[] = [];
  for (const x of wal) {
    if (lsnValue(x.endPosition) <= startLsn) continue;
    needed.push(x);
    if (x.lastCommitMs >= (target + 1) * 1000) break;
  }
  const neededRaw = needed.reduce((s, x) => s + x.rawBytes, 0);
  const fetchedAll = await timed(async () => {
    for (const x of needed) await fetchArchived(x, deps, new AbortController().signal);
  });

  rows.push(
    row({ suite: S, name: `restore to ${isoUtc(target)} (${back} s before the last commit) through Coffer: Prepare with the target, to the first query`, seconds: coffer.seconds, note: `${coffer.value.fetched} segments fetched through restore_command; rows ${gotCoffer.join(' / ')} (source up to the target: ${want}); ${cofferLoad}` }),
    row({ suite: S, name: 'the same by hand: zstd -d | tar -x, recovery.signal, postgres with restore_command cp from the plain WAL directory, to the first query after promote', seconds: bareSeconds, note: `${phases.join(', ')}; the same rows; ${bareLoad}` }),
    row({ suite: S, name: 'Coffer against the bare tools', note: `${(bareSeconds / coffer.seconds).toFixed(2)}x the speed; Coffer spends ${(coffer.seconds - bareSeconds).toFixed(1)} s more` }),
    row({ suite: S, name: 'Coffer: Prepare from the same backup without a target (the base restore alone), to the first query', seconds: plain.seconds, note: `the replay part of the restore to a time: ${(coffer.seconds - plain.seconds).toFixed(1)} s` }),
    row({ suite: S, name: "Coffer's fetch of the segments the replay needs (verify whole, decrypt, decompress: fetchArchived, one after another, in the bench process)", bytes: neededRaw, seconds: fetchedAll.seconds, mbps: mbps(neededRaw, fetchedAll.seconds), note: `${needed.length} segments (the restore's progress counted ${coffer.value.fetched} fetched), ${((fetchedAll.seconds / Math.max(1, needed.length)) * 1000).toFixed(0)} ms each` }),
  );
  return rows;
}
