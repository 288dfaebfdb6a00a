// Issue 3: MariaDB backup and restore throughput of Coffer's pipeline
// (mariadb-backup -> zstd -> AES-256-GCM frames -> sha256 -> local storage,
// through the real agent's gRPC API) against
//   (a) bare `mariadb-backup --backup --stream=xbstream | zstd -1 -T2 > file`,
//   (a') the same with Coffer's protection by the standard tools (`... | zstd -1 -T2 | openssl enc -aes-256-ctr | tee file | openssl dgst -sha256`),
//   (b) Trove's `mariadb-backup ... | gzip | openssl enc -aes-256-cbc -salt -pass file:KEY > file`,
// plus Restore into a second instance against a bare restore, StreamBackup
// over loopback against reading the stored object, and the agent's memory.
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentProcess } from '../support/agent.js';
import { mariadbSocket } from '../support/mariadb-client.js';
import { socketOf } from '../support/dataset.js';
import { BackupType, type BackupArtifact, type RestoreResponse, type StreamBackupResponse, type BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { deployment, measuredBackup, preparedAgent, profileFlags } from './agents.js';
import type { BenchOptions } from './options.js';
import { benchRoot } from './workdir.js';
import { fileSize, withMachineCpu, mbps, pairSummary, row, run, runPipeline, sampleRss, timed, type Pair, type Row, type Stage, type Teardown } from './harness.js';

const DB = 'bench';
const TABLES = 4;
const GIB = 1024 ** 3;

async function sql(baseDir: string, statement: string): Promise<string> {
  const r = await mariadbSocket(socketOf(baseDir), statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr.trim()}\n${statement.slice(0, 300)}`);
  return r.stdout;
}

/** Sum of the bench tables' .ibd files: what "the dataset is N GB" means here. */
function datasetBytes(baseDir: string): number {
  const dir = path.join(baseDir, 'data', DB);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ibd'))
    .reduce((s, f) => s + statSync(path.join(dir, f)).size, 0);
}

/**
 * InnoDB tables of wide, partly compressible rows (hex digests, a run of one
 * letter, random md5s): about 0.5 KB a row. Filled with INSERT ... SELECT
 * from the Sequence engine in chunks, two connections at a time (2 cores),
 * until the .ibd files reach the target.
 */
export async function generate(baseDir: string, targetBytes: number): Promise<{ bytes: number; rows: number; seconds: number }> {
  const ddl = [`CREATE DATABASE ${DB}`];
  for (let t = 0; t < TABLES; t++) {
    ddl.push(
      `CREATE TABLE ${DB}.t${t} (id INT UNSIGNED PRIMARY KEY, customer VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL, created DATETIME NOT NULL, token CHAR(64) NOT NULL, payload VARCHAR(1024) NOT NULL) ENGINE=InnoDB`,
    );
  }
  await sql(baseDir, ddl.join(';\n'));
  // About 550 bytes a row on disk; at most 250,000 rows a statement, and
  // about eight rounds for a small (quick) run.
  const CHUNK_ROWS = Math.max(5_000, Math.min(250_000, Math.ceil(targetBytes / (550 * TABLES * 8))));
  const insert = (t: number, from: number) =>
    sql(
      baseDir,
      `INSERT INTO ${DB}.t${t} SELECT seq, CONCAT('customer-', seq MOD 100003), (seq MOD 100000) / 100, '2024-01-01' + INTERVAL (seq MOD 31536000) SECOND, ` +
        `SHA2(CONCAT(${t}, '-', seq), 256), CONCAT(SHA2(seq * 7 + ${t}, 512), ' ', REPEAT(CHAR(97 + seq MOD 26), 100), ' ', MD5(RAND()), ` +
        `' order notes for customer ', seq MOD 977, ' ', SHA2(RAND(), 256)) FROM ${DB}.seq_${from}_to_${from + CHUNK_ROWS - 1}`,
    );
  let next = 1;
  let rows = 0;
  const started = Date.now();
  while (datasetBytes(baseDir) < targetBytes) {
    const from = next;
    // Two connections: tables 0 and 2 on one, 1 and 3 on the other.
    await Promise.all(
      [0, 1].map(async (w) => {
        for (let t = w; t < TABLES; t += 2) await insert(t, from);
      }),
    );
    next += CHUNK_ROWS;
    rows += CHUNK_ROWS * TABLES;
    console.log(`bench mariadb: ${rows} rows, ${(datasetBytes(baseDir) / 1e6).toFixed(0)} MB of .ibd`);
  }
  return { bytes: datasetBytes(baseDir), rows, seconds: (Date.now() - started) / 1000 };
}

/** Waits until InnoDB has no dirty pages, then has the kernel write everything back. */
export async function quiesce(baseDir: string): Promise<void> {
  await sql(baseDir, 'SET GLOBAL innodb_max_dirty_pages_pct = 0');
  for (let i = 0; i < 600; i++) {
    const dirty = Number((await sql(baseDir, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY'")).trim());
    if (dirty === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await sql(baseDir, 'SET GLOBAL innodb_max_dirty_pages_pct = DEFAULT');
  await run(['sync']);
}

export async function tableCounts(baseDir: string): Promise<string> {
  return tableCountsAt(socketOf(baseDir));
}

/** The same, of a server on `socket` (a replica the bench made by hand). */
export async function tableCountsAt(socket: string): Promise<string> {
  const parts = Array.from({ length: TABLES }, (_, t) => `(SELECT COUNT(*) FROM ${DB}.t${t})`);
  const statement = `SELECT CONCAT_WS(',', ${parts.join(', ')})`;
  const r = await mariadbSocket(socket, statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr.trim()}\n${statement.slice(0, 300)}`);
  return r.stdout.trim();
}

async function tableChecksums(baseDir: string): Promise<string> {
  return (await sql(baseDir, `CHECKSUM TABLE ${Array.from({ length: TABLES }, (_, t) => `${DB}.t${t}`).join(', ')}`)).trim();
}

/** StreamBackup, read to the end; the client keeps only a byte count. */
function streamBackup(agent: AgentProcess, backupId: string): Promise<{ bytes: number; metadata: BackupMetadata }> {
  return new Promise((resolve, reject) => {
    const call = agent.clients.backup.streamBackup({ backupId, type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, compression: '' });
    let bytes = 0;
    let metadata: BackupMetadata | undefined;
    call.on('data', (m: StreamBackupResponse) => {
      if (m.chunk) bytes += m.chunk.length;
      if (m.metadata) metadata = m.metadata;
    });
    call.on('error', reject);
    call.on('end', () => (metadata ? resolve({ bytes, metadata }) : reject(new Error('StreamBackup ended without metadata'))));
  });
}

/** Whether the kernel groups each session for scheduling (sched_autogroup_enabled). */
function autogroup(): string {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1' ? 'on' : 'off';
  } catch {
    return 'unknown';
  }
}

async function readAll(file: string): Promise<number> {
  let n = 0;
  for await (const c of createReadStream(file, { highWaterMark: 1024 * 1024 })) n += (c as Buffer).length;
  return n;
}

export async function benchMariadb(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const S = 'mariadb';
  const root = benchRoot(td, o, 'coffer-bench-mariadb-');
  const { backupDir, agentArgs } = deployment(root);

  const a = await preparedAgent(td, path.join(root, 'a'), 'mariadb', agentArgs, profileFlags(o.cpuProf));
  const gen = await generate(a.baseDir, o.sizeGb * GIB);
  rows.push(row({ suite: S, name: 'dataset: INSERT ... SELECT from seq_1_to_N, 4 InnoDB tables', bytes: gen.bytes, seconds: gen.seconds, mbps: mbps(gen.bytes, gen.seconds), note: `${gen.rows} rows; bytes = .ibd files` }));

  // The bare tools log in as their own user, its password in a 0600 option file.
  const password = randomBytes(18).toString('base64url');
  await sql(a.baseDir, `CREATE USER bench@localhost IDENTIFIED BY '${password}'; GRANT ALL PRIVILEGES ON *.* TO bench@localhost`);
  const creds = path.join(root, 'bench.cnf');
  writeFileSync(creds, `[client]\nuser=bench\npassword=${password}\n`, { mode: 0o600 });
  const troveKey = path.join(root, 'trove.key');
  writeFileSync(troveKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  let work = 0;
  // The same options the agent gives mariadb-backup (agent/managers/mysql-family/backup/mariabackup.ts), fresh dirs each run.
  const mariabackup = (): Stage => {
    const w = path.join(root, `mb-work-${work++}`);
    for (const d of ['target', 'lsn', 'tmp']) mkdirSync(path.join(w, d), { recursive: true, mode: 0o700 });
    return {
      argv: ['mariadb-backup', `--defaults-extra-file=${creds}`, '--backup', '--stream=xbstream', `--target-dir=${w}/target`, `--extra-lsndir=${w}/lsn`, `--tmpdir=${w}/tmp`, `--socket=${socketOf(a.baseDir)}`, '--user=bench'],
    };
  };
  const bareFile = path.join(root, 'bare.xbstream.zst');
  // (a'): the same protection as Coffer's by the standard tools: AES-256 and
  // a sha256 of the stored bytes, both through OpenSSL (which uses the CPU's
  // AES and SHA instructions; coreutils' sha256sum does not use SHA-NI and
  // hashes at about 130 MB/s here). `tee file | openssl dgst` is
  // `tee >(sha256sum) > file` without a shell.
  const protectedFile = path.join(root, 'protected.xbstream.zst.enc');
  const protectKey = path.join(root, 'protect.key');
  writeFileSync(protectKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  const encrypt: Stage = { argv: ['openssl', 'enc', '-aes-256-ctr', '-pbkdf2', '-pass', `file:${protectKey}`] };
  const protectedPipeline = (): Stage[] => [mariabackup(), { argv: ['zstd', '-1', '-T2', '-c', '-q'] }, encrypt, { argv: ['tee', protectedFile] }, { argv: ['openssl', 'dgst', '-sha256', '-r'] }];

  let artifact: BackupArtifact | undefined;
  const pairs: Pair[] = [];
  const protectedPairs: Pair[] = [];
  const sessionPairs: Pair[] = [];
  const streamPairs: Pair[] = [];
  // The generator leaves InnoDB flushing dirty pages and the kernel writing
  // back files for a while; measuring during that would charge whichever
  // pipeline runs first.
  await quiesce(a.baseDir);
  // Each round runs every variant back to back, so the machine's load (it is
  // shared) falls on all of them alike.
  for (let r = 1; r <= o.rounds; r++) {
    rmSync(bareFile, { force: true });
    const { value: bare, cpuNote: bareCpu } = await withMachineCpu(() => runPipeline([mariabackup(), { argv: ['zstd', '-1', '-T2', '-c', '-q'] }], bareFile));
    rows.push(row({ suite: S, name: `(a) bare mariadb-backup | zstd -1 -T2 > file, round ${r}`, bytes: bare.bytes, seconds: bare.seconds, mbps: mbps(gen.bytes, bare.seconds), note: `MB/s of dataset bytes; ${bareCpu}` }));

    rmSync(protectedFile, { force: true });
    const { value: prot, cpuNote: protCpu } = await withMachineCpu(() => runPipeline(protectedPipeline(), path.join(root, 'protected.sha256')));
    const protBytes = fileSize(protectedFile);
    rows.push(row({ suite: S, name: `(a') bare protected mariadb-backup | zstd -1 -T2 | openssl enc -aes-256-ctr | tee file | openssl dgst -sha256, round ${r}`, bytes: protBytes, seconds: prot.seconds, mbps: mbps(gen.bytes, prot.seconds), note: `MB/s of dataset bytes; ${protCpu}` }));

    // (a'') the same, each program in a session of its own, as the agent
    // starts its tools: on a shared machine with autogroup scheduling that
    // alone changes the pipeline's share of the CPU.
    rmSync(protectedFile, { force: true });
    const { value: sess, cpuNote: sessCpu } = await withMachineCpu(() => runPipeline(protectedPipeline().map((st) => ({ ...st, detached: true })), path.join(root, 'protected.sha256')));
    rows.push(row({ suite: S, name: `(a'') bare protected, each program in its own session (setsid) as the agent's tools run, round ${r}`, bytes: fileSize(protectedFile), seconds: sess.seconds, mbps: mbps(gen.bytes, sess.seconds), note: `MB/s of dataset bytes; autogroup scheduling ${autogroup()}; ${sessCpu}` }));
    sessionPairs.push({ bare: sess.seconds, coffer: 0 });

    if (artifact) rmSync(path.join(backupDir, artifact.location!.location), { force: true });
    const c = await measuredBackup(a, `bench-full-${r}`);
    sessionPairs[sessionPairs.length - 1] = { bare: sess.seconds, coffer: c.seconds };
    const { mem, cpuNote: cofferCpu } = c;
    artifact = c.artifact;
    const m = artifact.metadata!;
    pairs.push({ bare: bare.seconds, coffer: c.seconds });
    protectedPairs.push({ bare: prot.seconds, coffer: c.seconds });
    rows.push(
      row({
        suite: S,
        name: `(c) Coffer CreateBackup (mariabackup, zstd, AES-256-GCM, sha256, local), round ${r}`,
        bytes: m.storedBytes,
        seconds: c.seconds,
        mbps: mbps(gen.bytes, c.seconds),
        peakRssMb: c.peakRssMb,
        note: `raw xbstream ${m.rawBytes} B; speed vs (a') ${(prot.seconds / c.seconds).toFixed(2)}x (target >= 0.95x), vs (a) ${(bare.seconds / c.seconds).toFixed(2)}x; agent VmRSS sampled max ${mem.sampledPeakMb.toFixed(1)} MB over ${mem.samples} samples, VmHWM ${mem.hwmMb.toFixed(1)} MB; agent CPU ${mem.cpuSeconds.toFixed(1)} s, RSS at start ${mem.startMb.toFixed(1)} MB; ${cofferCpu}`,
      }),
    );

    // (e) StreamBackup on loopback: a whole backup whose bytes go to the client.
    const rss = sampleRss(a.proc.pid!);
    const { value: s, cpuNote: streamCpu } = await withMachineCpu(() => timed(() => streamBackup(a, `bench-stream-${r}`)));
    const smem = rss.stop();
    streamPairs.push({ bare: c.seconds, coffer: s.seconds });
    rows.push(
      row({
        suite: S,
        name: `(e) Coffer StreamBackup over gRPC on loopback, client reads every byte, round ${r}`,
        bytes: s.value.bytes,
        seconds: s.seconds,
        mbps: mbps(gen.bytes, s.seconds),
        peakRssMb: Math.max(smem.sampledPeakMb, smem.hwmMb),
        note: `MB/s of dataset bytes (${mbps(s.value.bytes, s.seconds).toFixed(1)} MB/s of streamed bytes); throughput vs this round's CreateBackup ${(c.seconds / s.seconds).toFixed(2)}x (target >= 0.8x); agent CPU ${smem.cpuSeconds.toFixed(1)} s, RSS at start ${smem.startMb.toFixed(1)} MB; ${streamCpu}`,
      }),
    );
  }
  const summary = pairSummary(pairs);
  rows.push(row({ suite: S, name: "(c) vs (a'): Coffer CreateBackup speed as a fraction of bare protected", note: `${pairSummary(protectedPairs).text} (target >= 0.95x)` }));
  rows.push(row({ suite: S, name: '(c) vs (a): Coffer CreateBackup speed as a fraction of bare', note: summary.text }));
  rows.push(row({ suite: S, name: "(c) vs (a''): Coffer CreateBackup speed as a fraction of bare protected with every program in its own session", note: pairSummary(sessionPairs).text }));
  rows.push(row({ suite: S, name: '(e) vs (c): StreamBackup throughput as a fraction of CreateBackup', note: `${pairSummary(streamPairs).text} (target >= 0.8x)` }));
  const m = artifact!.metadata!;
  const stored = path.join(backupDir, artifact!.location!.location);
  {
    const read = await timed(() => readAll(stored));
    rows.push(row({ suite: S, name: '(e) reading the stored object from local disk (page cache likely warm)', bytes: read.value, seconds: read.seconds, mbps: mbps(read.value, read.seconds) }));
  }

  const troveFile = path.join(root, 'trove.xbstream.gz.enc');
  const trove = await runPipeline([mariabackup(), { argv: ['gzip'] }, { argv: ['openssl', 'enc', '-aes-256-cbc', '-salt', '-pass', `file:${troveKey}`] }], troveFile);
  const cofferSeconds = summary.medianCofferSeconds;
  rows.push(row({ suite: S, name: "(b) Trove's mariadb-backup | gzip | openssl enc -aes-256-cbc > file", bytes: trove.bytes, seconds: trove.seconds, mbps: mbps(gen.bytes, trove.seconds), note: `Coffer (c), median time, is ${(trove.seconds / cofferSeconds).toFixed(2)}x faster (target >= 3x)` }));
  rmSync(troveFile, { force: true });

  // (d) Restore into a second prepared instance against the same by hand, round by round.
  {
    const b = await preparedAgent(td, path.join(root, 'b'), 'mariadb', agentArgs, profileFlags(o.cpuProf));
    const restorePairs: Pair[] = [];
    const restoreProtectedPairs: Pair[] = [];
    const x = path.join(root, 'bare-restore', 'backup');
    const data = path.join(root, 'bare-restore', 'data');
    const bareRestore = async (extractStages: Stage[]): Promise<{ seconds: number; note: string }> => {
      rmSync(path.join(root, 'bare-restore'), { recursive: true, force: true });
      mkdirSync(x, { recursive: true, mode: 0o700 });
      const extract = await runPipeline([...extractStages, { argv: ['mbstream', '-x', '-C', x] }], null);
      const prepare = await run(['mariadb-backup', '--no-defaults', '--prepare', `--target-dir=${x}`]);
      const moveBack = await run(['mariadb-backup', '--no-defaults', '--move-back', `--target-dir=${x}`, `--datadir=${data}`]);
      rmSync(path.join(root, 'bare-restore'), { recursive: true, force: true });
      return { seconds: extract.seconds + prepare.seconds + moveBack.seconds, note: `extract ${extract.seconds.toFixed(2)} s, prepare ${prepare.seconds.toFixed(2)} s, move-back ${moveBack.seconds.toFixed(2)} s` };
    };
    for (let round = 1; round <= o.rounds; round++) {
      const bare = await bareRestore([{ argv: ['zstd', '-d', '-c', '-q', bareFile] }]);
      rows.push(row({ suite: S, name: `(d) bare restore: zstd -d | mbstream -x, mariadb-backup --prepare, --move-back (no server start), round ${round}`, bytes: fileSize(bareFile), seconds: bare.seconds, mbps: mbps(gen.bytes, bare.seconds), note: bare.note }));
      // (d'): check the sha256 first (a whole read), then decrypt while extracting.
      const sum = await run(['openssl', 'dgst', '-sha256', '-r', protectedFile]);
      const prot = await bareRestore([{ argv: ['openssl', 'enc', '-d', '-aes-256-ctr', '-pbkdf2', '-pass', `file:${protectKey}`, '-in', protectedFile] }, { argv: ['zstd', '-d', '-c', '-q'] }]);
      const protSeconds = sum.seconds + prot.seconds;
      rows.push(row({ suite: S, name: `(d') bare protected restore: openssl dgst -sha256 file, then openssl enc -d | zstd -d | mbstream -x, --prepare, --move-back, round ${round}`, bytes: fileSize(protectedFile), seconds: protSeconds, mbps: mbps(gen.bytes, protSeconds), note: `sha256 ${sum.seconds.toFixed(2)} s, ${prot.note}` }));

      const rss = sampleRss(b.proc.pid!);
      const start = Date.now();
      let restorePhaseAt = 0;
      const r = await timed(
        () =>
          new Promise<RestoreResponse[]>((resolve, reject) => {
            const call = b.clients.backup.restore({ chain: [artifact!], rewrapped: undefined });
            const out: RestoreResponse[] = [];
            call.on('data', (e: RestoreResponse) => {
              if (e.progress?.phase === 'restore' && !restorePhaseAt) restorePhaseAt = Date.now();
              out.push(e);
            });
            call.on('error', reject);
            call.on('end', () => resolve(out));
          }),
      );
      const mem = rss.stop();
      const result = r.value.at(-1)?.result;
      if (result?.state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`Restore ended in state ${result?.state}`);
      const verifySeconds = restorePhaseAt ? (restorePhaseAt - start) / 1000 : 0;
      const check = o.verify === 'checksum' ? tableChecksums : tableCounts;
      const [want, got] = [await check(a.baseDir), await check(b.baseDir)];
      if (want !== got) throw new Error(`restored data differs (${o.verify}): source ${want}, restored ${got}`);
      restorePairs.push({ bare: bare.seconds, coffer: r.seconds });
      restoreProtectedPairs.push({ bare: protSeconds, coffer: r.seconds });
      rows.push(
        row({
          suite: S,
          name: `(d) Coffer Restore into a second prepared instance (one pass: decrypt and check while zstd -d | mbstream -x stages it, prepare, move-back, chown, restart), round ${round}`,
          bytes: m.storedBytes,
          seconds: r.seconds,
          mbps: mbps(gen.bytes, r.seconds),
          peakRssMb: Math.max(mem.sampledPeakMb, mem.hwmMb),
          note: `speed vs (d) ${(bare.seconds / r.seconds).toFixed(2)}x (target >= 0.85x), vs (d') ${(protSeconds / r.seconds).toFixed(2)}x; before the restore phase ${verifySeconds.toFixed(2)} s; agent CPU ${mem.cpuSeconds.toFixed(1)} s, RSS at start ${mem.startMb.toFixed(1)} MB; restored data equal by ${o.verify === 'checksum' ? 'CHECKSUM TABLE' : 'row counts'} (${got})`,
        }),
      );
    }
    rows.push(row({ suite: S, name: '(d) Coffer Restore speed as a fraction of the bare restore', note: `${pairSummary(restorePairs).text} (target >= 0.85x); of the bare protected restore (d') ${pairSummary(restoreProtectedPairs).text}` }));
  }
  return rows;
}
