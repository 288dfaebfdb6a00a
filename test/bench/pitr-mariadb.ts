// Issue 18, MariaDB: binlog archiving under a steady write loop and a
// restore to a time, through the real agent's gRPC API and a local store.
//
// - Archiving: one connection inserting 50-row batches as fast as it can
//   for BENCH_PITR_SECONDS with archiving on (archive timeout
//   BENCH_PITR_TIMEOUT). Sampled every 500 ms: the data at risk (now minus
//   the newest commit the store's catalogue lists) and the archive status's
//   pending files. Then: the binlog bytes archived per second of load, and
//   how long the archive takes to catch up once the load stops.
// - Restore to a time: Prepare of a new instance from the base backup with
//   a target a second before the load's last, against Prepare of another
//   from the same backup without a target plus the bare replay by hand of
//   the source's own binlogs (`mariadb-binlog --start-position=<backup GTID>
//   --stop-datetime=<target + 1> files | mariadb`), which is what the
//   replay inside Prepare does after its fetch and checks.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { credentials } from '@grpc/grpc-js';
import { call, startAgent, type AgentProcess } from '../support/agent.js';
import { mariadbSocket } from '../support/mariadb-client.js';
import { socketOf } from '../support/dataset.js';
import { ArchiveServiceClient, type GetArchiveStatusResponse } from '../../proto/gen/coffer/agent/v1/archive.js';
import { archivePrefixBesideBackup, parseCatalogue } from '../../strategies/archive/layout.js';
import { ADMIN_USER } from '../../agent/managers/mysql-family/flavor.js';
import { utcDatetime } from '../../agent/managers/mysql-family/archive/binlog-replay.js';
import { createBackup, deployment, prepareFromBackup, preparedAgent } from './agents.js';
import type { BenchOptions } from './options.js';
import { benchRoot } from './workdir.js';
import { mbps, row, runPipeline, timed, type Row, type Teardown } from './harness.js';

const SUITE = 'pitr-mariadb';

async function sql(baseDir: string, statement: string): Promise<string> {
  const r = await mariadbSocket(socketOf(baseDir), statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr.trim()}\n${statement.slice(0, 300)}`);
  return r.stdout.trim();
}

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0;
};

export async function benchPitrMariadb(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-pitr-maria-');
  const d = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'mariadb', d.agentArgs);
  await sql(a.baseDir, 'CREATE DATABASE b; CREATE TABLE b.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, at INT NOT NULL, payload VARCHAR(255) NOT NULL) ENGINE=InnoDB');
  const full = await createBackup(a, 'pitr-base');
  const prefix = archivePrefixBesideBackup(full.location!.location);
  const archive = new ArchiveServiceClient(a.address, credentials.createInsecure());
  td.teardown(() => archive.close());
  await call(archive, 'configureArchiving', { enabled: true, settings: { storage: { storage: 'local', location: prefix }, keyId: '', archiveTimeoutSeconds: o.pitrTimeoutSeconds, parallelism: 4, compression: 'zstd', retentionDays: 0 } });
  const catalogueFile = path.join(d.backupDir, prefix, 'catalogue.json');
  const objects = () => (existsSync(catalogueFile) ? parseCatalogue(readFileSync(catalogueFile, 'utf8'), catalogueFile).objects : []);

  // The write loop, over one connection as the agent's admin account.
  const conn = await mysql.createConnection({ socketPath: socketOf(a.baseDir), user: ADMIN_USER, password: readFileSync(path.join(a.baseDir, 'agent', 'admin.secret'), 'utf8').trim() });
  td.teardown(() => conn.end());
  const startMs = Date.now();
  const endMs = startMs + o.pitrSeconds * 1000;
  let statements = 0;
  const atRisk: number[] = [];
  const pending: number[] = [];
  const sampler = setInterval(() => {
    const newest = objects().reduce((m, x) => Math.max(m, x.lastCommitMs), 0);
    // Once the first timeout has passed: before it, nothing could be archived.
    if (Date.now() > startMs + o.pitrTimeoutSeconds * 1000 && newest > 0) atRisk.push((Date.now() - newest) / 1000);
    void call<object, GetArchiveStatusResponse>(archive, 'getArchiveStatus', {}).then((s) => pending.push(s.status?.pendingCount ?? 0), () => undefined);
  }, 500);
  try {
    while (Date.now() < endMs) {
      await conn.query('INSERT INTO b.t (at, payload) SELECT UNIX_TIMESTAMP(), REPEAT(MD5(RAND()), 6) FROM b.seq_1_to_50');
      statements++;
    }
  } finally {
    clearInterval(sampler);
  }
  const lastSecond = Number(await sql(a.baseDir, 'SELECT MAX(at) FROM b.t'));
  const lastGtid = await sql(a.baseDir, 'SELECT @@GLOBAL.gtid_binlog_pos');
  const loadSeconds = (Date.now() - startMs) / 1000;
  const caughtUp = await timed(async () => {
    for (;;) {
      const last = objects().at(-1);
      if (last && last.endPosition === lastGtid) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  const archivedBytes = objects().reduce((s, x) => s + x.rawBytes, 0);
  const storedBytes = objects().reduce((s, x) => s + x.storedBytes, 0);
  rows.push(
    row({ suite: SUITE, name: `archive: binlogs archived under a write loop (${o.pitrSeconds} s, ${statements * 50} rows)`, bytes: archivedBytes, seconds: loadSeconds, mbps: mbps(archivedBytes, loadSeconds), note: `${objects().length} binlogs, ${(storedBytes / 1e6).toFixed(1)} MB stored (zstd, encrypted)` }),
    row({ suite: SUITE, name: `archive: data at risk during the load (archive timeout ${o.pitrTimeoutSeconds} s)`, note: `p50 ${percentile(atRisk, 0.5).toFixed(1)} s, p95 ${percentile(atRisk, 0.95).toFixed(1)} s, max ${Math.max(0, ...atRisk).toFixed(1)} s over ${atRisk.length} samples; pending binlogs max ${Math.max(0, ...pending)}` }),
    row({ suite: SUITE, name: 'archive: catch-up after the load stopped', seconds: caughtUp.seconds }),
  );

  // Restore to a time: Prepare with a target, against Prepare plus the bare replay.
  const target = lastSecond - 1;
  const prepare = (agent: AgentProcess, withTarget: boolean) =>
    timed(async () => {
      await prepareFromBackup(agent, full, withTarget ? target : undefined);
    });
  // At info level: the replay's own log line says how its time splits (fetch and checks, then mariadb-binlog | mariadb).
  const b = await startAgent(td, { baseDir: path.join(root, 'b'), datastore: 'mariadb', extraArgs: [...d.agentArgs, '--log-level', 'info'] });
  const coffer = await prepare(b, true);
  const c = await startAgent(td, { baseDir: path.join(root, 'c'), datastore: 'mariadb', extraArgs: d.agentArgs });
  const plain = await prepare(c, false);
  const binlogs = readdirSync(path.join(a.baseDir, 'data'))
    .filter((f) => /^mysql-bin\.\d+$/.test(f))
    .sort()
    .map((f) => path.join(a.baseDir, 'data', f));
  const bare = await runPipeline(
    [
      { argv: ['mariadb-binlog', '--no-defaults', `--start-position=${full.metadata!.gtidPosition}`, `--stop-datetime=${utcDatetime(target + 1)}`, ...binlogs], env: { ...process.env, TZ: 'UTC' } },
      { argv: ['mariadb', '--no-defaults', `--socket=${socketOf(c.baseDir)}`, '--user=root', '--batch', '--binary-mode'] },
    ],
    null,
  );
  const split = b.logs.map((l) => { try { return JSON.parse(l) as { msg?: string; fetchSeconds?: number; replaySeconds?: number }; } catch { return {}; } }).find((m) => m.msg === 'binary logs replayed to the target');
  const want = await sql(a.baseDir, `SELECT COUNT(*) FROM b.t WHERE at <= ${target}`);
  const [gotB, gotC] = [await sql(b.baseDir, 'SELECT COUNT(*) FROM b.t'), await sql(c.baseDir, 'SELECT COUNT(*) FROM b.t')];
  if (gotB !== want || gotC !== want) throw new Error(`restore to ${target}: want ${want} rows, Coffer has ${gotB}, the bare replay ${gotC}`);
  rows.push(
    row({ suite: SUITE, name: `restore to a time: Prepare from the backup with a target (${want} rows replayed)`, seconds: coffer.seconds, note: `replay part ${(coffer.seconds - plain.seconds).toFixed(2)} s (against Prepare without a target, ${plain.seconds.toFixed(2)} s): fetch and checks ${split?.fetchSeconds ?? '?'} s, mariadb-binlog | mariadb ${split?.replaySeconds ?? '?'} s` }),
    row({ suite: SUITE, name: 'restore to a time: bare mariadb-binlog | mariadb of the same binlogs, by hand', seconds: bare.seconds }),
  );
  return rows;
}
