// Issue 18, MariaDB: restore to a time of a ~1 GB instance with
// BENCH_PITR_MINUTES of changes, through Coffer against the bare tools
// doing the same replay by hand.
//
// One agent-prepared MariaDB with the backup bench's generator's dataset
// (BENCH_SIZE_GB of .ibd, mariadb.ts), its binlogs of the load purged. A
// Coffer base backup (CreateBackup) and a bare one (`mariadb-backup
// --backup --stream=xbstream | zstd -1 -T2 > file`), then archiving on
// (local store beside the backup, zstd, AES-256-GCM frames, archive timeout
// 60 s) and a write loop at a fixed rate for the window: each tick, 20 rows
// inserted into bench.log (stamped with the second) and 20 random rows of
// one of the dataset's tables updated. The target: a minute before the
// last second written.
//
//   Coffer: Prepare of a new agent from the base backup with the target (a
//           user's create with a restore point), timed to the first query.
//   Bare:   `zstd -d | mbstream -x`, `mariadb-backup --prepare`, chown,
//           mariadbd with the same settings Coffer's instances run with
//           (replication/hand-server.ts), then `mariadb-binlog
//           --start-position=<the base's GTID> --stop-datetime=<target + 1>
//           files-from-the-base's | mariadb`, timed to the first query after.
//
// Both must hold the same rows (the log's count and sum, the dataset's
// amounts), and the log's rows the source had at the target. What Coffer
// adds: Prepare without a target (the base restore alone), and the replay's
// own split from the agent's log (fetch and checks, then the pipe).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { credentials } from '@grpc/grpc-js';
import { call, startAgent, type AgentProcess } from '../support/agent.js';
import { mariadbSocket } from '../support/mariadb-client.js';
import { socketOf } from '../support/dataset.js';
import { ArchiveServiceClient } from '../../proto/gen/coffer/agent/v1/archive.js';
import { archivePrefixBesideBackup, parseCatalogue } from '../../strategies/archive/layout.js';
import { ADMIN_USER } from '../../agent/managers/mysql-family/flavor.js';
import { utcDatetime } from '../../agent/managers/mysql-family/archive/binlog-replay.js';
import { createBackup, deployment, prepareFromBackup, preparedAgent } from './agents.js';
import { generate } from './mariadb.js';
import type { BenchOptions } from './options.js';
import { startDaemon, until } from './replication/daemon.js';
import { handServer } from './replication/hand-server.js';
import { gtidOfBinlogInfo, mariadbSql } from './replication/mariadb-sql.js';
import { benchRoot } from './workdir.js';
import { loadWindow } from './load-window.js';
import { mbps, row, run, runPipeline, timed, type Row, type Teardown } from './harness.js';

const S = 'pitr-restore-mariadb';
const GIB = 1024 ** 3;
const ROWS_PER_TICK = 20;

async function sql(baseDir: string, statement: string): Promise<string> {
  const r = await mariadbSocket(socketOf(baseDir), statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr.trim()}\n${statement.slice(0, 300)}`);
  return r.stdout.trim();
}

/** What both restored servers must agree on. */
const CHECK = "SELECT CONCAT_WS(',', (SELECT COUNT(*) FROM bench.log), (SELECT COALESCE(SUM(id), 0) FROM bench.log), (SELECT SUM(amount) FROM bench.t0), (SELECT SUM(amount) FROM bench.t1), (SELECT SUM(amount) FROM bench.t2), (SELECT SUM(amount) FROM bench.t3))";

export async function benchPitrRestoreMariadb(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-pitr-restore-maria-');
  const d = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'mariadb', d.agentArgs);
  const gen = await generate(a.baseDir, o.sizeGb * GIB);
  rows.push(row({ suite: S, name: 'dataset: the backup bench generator, 4 InnoDB tables', bytes: gen.bytes, seconds: gen.seconds, note: `${gen.rows} rows; bytes = .ibd files` }));
  // The generator's binlogs gone: what follows the backup is the changes.
  await sql(a.baseDir, 'FLUSH BINARY LOGS');
  const active = (await sql(a.baseDir, 'SHOW MASTER STATUS')).split('\n').at(-1)!.split('\t')[0]!;
  await sql(a.baseDir, `PURGE BINARY LOGS TO '${active}'`);
  await sql(a.baseDir, 'CREATE TABLE bench.log (id BIGINT AUTO_INCREMENT PRIMARY KEY, at INT NOT NULL, payload VARCHAR(255) NOT NULL) ENGINE=InnoDB');

  const full = await createBackup(a, 'pitr-restore-base');
  const baseFile = path.join(root, 'base.xb.zst');
  for (const dir of ['xb-target', 'xb-tmp']) mkdirSync(path.join(root, dir));
  await runPipeline(
    [
      { argv: ['mariadb-backup', '--no-defaults', '--backup', '--stream=xbstream', `--target-dir=${path.join(root, 'xb-target')}`, `--tmpdir=${path.join(root, 'xb-tmp')}`, `--socket=${socketOf(a.baseDir)}`, '--user=root'] },
      { argv: ['zstd', '-1', '-T2', '-c', '-q'] },
    ],
    baseFile,
  );
  const prefix = archivePrefixBesideBackup(full.location!.location);
  const archive = new ArchiveServiceClient(a.address, credentials.createInsecure());
  td.teardown(() => archive.close());
  await call(archive, 'configureArchiving', { enabled: true, settings: { storage: { storage: 'local', location: prefix }, keyId: '', archiveTimeoutSeconds: 60, parallelism: 4, compression: 'zstd', retentionDays: 0 } });
  const catalogueFile = path.join(d.backupDir, prefix, 'catalogue.json');
  const objects = () => (existsSync(catalogueFile) ? parseCatalogue(readFileSync(catalogueFile, 'utf8'), catalogueFile).objects : []);

  // The write loop at a fixed rate, over one connection as the agent's admin account.
  const conn = await mysql.createConnection({ socketPath: socketOf(a.baseDir), user: ADMIN_USER, password: readFileSync(path.join(a.baseDir, 'agent', 'admin.secret'), 'utf8').trim() });
  td.teardown(() => conn.end());
  const perTable = Math.floor(gen.rows / 4);
  const seconds = Math.round(o.pitrRestoreMinutes * 60);
  const everyMs = 1000 / o.pitrMariadbRate;
  const lw = loadWindow();
  const startMs = Date.now();
  let ticks = 0;
  let late = 0;
  while (Date.now() < startMs + seconds * 1000) {
    const ids = Array.from({ length: ROWS_PER_TICK }, () => 1 + Math.floor(Math.random() * perTable));
    await conn.query(`INSERT INTO bench.log (at, payload) SELECT UNIX_TIMESTAMP(), REPEAT(MD5(RAND()), 6) FROM bench.seq_1_to_${ROWS_PER_TICK}`);
    await conn.query(`UPDATE bench.t${ticks % 4} SET amount = amount + 1 WHERE id IN (${ids.join(',')})`);
    ticks++;
    const next = startMs + ticks * everyMs;
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    else late++;
  }
  const loadSeconds = (Date.now() - startMs) / 1000;
  const loadNote = lw.stop();
  const lastSecond = Number(await sql(a.baseDir, 'SELECT MAX(at) FROM bench.log'));
  const back = Math.min(60, Math.floor(seconds / 3));
  const target = lastSecond - back;
  const lastGtid = await sql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  await until('the archive to catch up', async () => (objects().at(-1)?.endPosition === lastGtid ? true : undefined), 600_000, 500);
  const want = await sql(a.baseDir, `SELECT COUNT(*) FROM bench.log WHERE at <= ${target}`);
  const binlogDir = path.join(a.baseDir, 'data');
  const binlogs = readdirSync(binlogDir).filter((f) => /^mysql-bin\.\d+$/.test(f)).sort();
  const local = binlogs.reduce((s, f) => s + statSync(path.join(binlogDir, f)).size, 0);
  const archived = objects();
  const raw = archived.reduce((s, x) => s + x.rawBytes, 0);
  const stored = archived.reduce((s, x) => s + x.storedBytes, 0);
  rows.push(
    row({ suite: S, name: `changes: a write loop at ${o.pitrMariadbRate} ticks/s for ${seconds} s (each: INSERT ${ROWS_PER_TICK} rows, UPDATE ${ROWS_PER_TICK} random rows)`, bytes: raw, seconds: loadSeconds, mbps: mbps(raw, loadSeconds), note: `${ticks} ticks (${late} late); binlogs archived: ${archived.length}, ${(stored / 1e6).toFixed(1)} MB stored (zstd, encrypted); the source's binlogs ${binlogs.length} files, ${local} B; ${loadNote}` }),
  );

  const prepare = (agent: AgentProcess, withTarget: boolean) =>
    timed(async () => {
      await prepareFromBackup(agent, full, withTarget ? target : undefined);
      await sql(agent.baseDir, 'SELECT 1');
    });
  // At info level: the replay's own log line says how its time splits.
  const b = await startAgent(td, { baseDir: path.join(root, 'b'), datastore: 'mariadb', extraArgs: [...d.agentArgs, '--log-level', 'info'] });
  const lwC = loadWindow(10_000);
  const coffer = await prepare(b, true);
  const cofferLoad = lwC.stop();
  const split = b.logs.map((l) => { try { return JSON.parse(l) as { msg?: string; fetchSeconds?: number; replaySeconds?: number }; } catch { return {}; } }).find((m) => m.msg === 'binary logs replayed to the target');
  const gotCoffer = await sql(b.baseDir, CHECK);

  // Bare: the base by hand, then the replay by hand.
  const hs = await handServer(path.join(root, 'bare'), 'bare', 99);
  const cnf = path.join(root, 'bare', 'my.cnf');
  writeFileSync(cnf, [...hs.lines, ''].join('\n'), { mode: 0o644 });
  const lwB = loadWindow(10_000);
  const phases: string[] = [];
  const t0 = performance.now();
  const mark = (name: string) => phases.push(`${name} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  await runPipeline([{ argv: ['zstd', '-d', '-c', '-q', baseFile] }, { argv: ['mbstream', '-x', '-C', hs.data] }], null);
  mark('zstd -d | mbstream -x');
  await run(['mariadb-backup', '--no-defaults', '--prepare', `--target-dir=${hs.data}`]);
  mark('mariadb-backup --prepare');
  await run(['chown', '-R', 'mysql:mysql', path.join(root, 'bare')]);
  startDaemon(td, ['mariadbd', `--defaults-file=${cnf}`, '--user=mysql'], { log: path.join(root, 'bare', 'mariadbd.log') });
  await until('the by-hand server to accept connections', async () => ((await mariadbSql(hs.socket, 'SELECT 1')).trim() === '1' ? true : undefined), 600_000);
  mark('server start');
  const info = readFileSync(path.join(hs.data, 'xtrabackup_binlog_info'), 'utf8');
  const fromFile = info.trim().split(/\s+/)[0]!;
  const files = binlogs.filter((f) => f >= fromFile).map((f) => path.join(binlogDir, f));
  await runPipeline(
    [
      { argv: ['mariadb-binlog', '--no-defaults', `--start-position=${gtidOfBinlogInfo(info)}`, `--stop-datetime=${utcDatetime(target + 1)}`, ...files], env: { ...process.env, TZ: 'UTC' } },
      { argv: ['mariadb', '--no-defaults', `--socket=${hs.socket}`, '--user=root', '--batch', '--binary-mode'] },
    ],
    null,
  );
  await mariadbSql(hs.socket, 'SELECT 1');
  mark(`mariadb-binlog | mariadb (${files.length} files), first query`);
  const bareSeconds = (performance.now() - t0) / 1000;
  const bareLoad = lwB.stop();
  const gotBare = (await mariadbSql(hs.socket, CHECK)).trim();
  const wantLog = gotCoffer.split(',')[0];
  if (gotCoffer !== gotBare || wantLog !== want) throw new Error(`restore to ${target}: want ${want} log rows; Coffer has ${gotCoffer}, the bare replay ${gotBare}`);

  const c = await startAgent(td, { baseDir: path.join(root, 'c'), datastore: 'mariadb', extraArgs: d.agentArgs });
  const plain = await prepare(c, false);
  rows.push(
    row({ suite: S, name: `restore to ${utcDatetime(target)} UTC (${back} s before the last write) through Coffer: Prepare with the target, to the first query`, seconds: coffer.seconds, note: `rows ${gotCoffer} (log rows at the target on the source: ${want}); in the agent's log: fetch and checks ${split?.fetchSeconds ?? '?'} s, mariadb-binlog | mariadb ${split?.replaySeconds ?? '?'} s; ${cofferLoad}` }),
    row({ suite: S, name: 'the same by hand: zstd -d | mbstream -x, --prepare, mariadbd, mariadb-binlog --start-position --stop-datetime | mariadb, to the first query', seconds: bareSeconds, note: `${phases.join(', ')}; the same rows; ${bareLoad}` }),
    row({ suite: S, name: 'Coffer against the bare tools', note: `${(bareSeconds / coffer.seconds).toFixed(2)}x the speed; Coffer spends ${(coffer.seconds - bareSeconds).toFixed(1)} s more` }),
    row({ suite: S, name: 'Coffer: Prepare from the same backup without a target (the base restore alone), to the first query', seconds: plain.seconds, note: `the replay part of the restore to a time: ${(coffer.seconds - plain.seconds).toFixed(1)} s` }),
  );
  return rows;
}
