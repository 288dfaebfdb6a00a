// Issue 4, PostgreSQL: Coffer's pg_basebackup backup (CreateBackup, strategy
// pg_basebackup: tar to stdout -> zstd -> AES-256-GCM frames -> sha256 ->
// local storage) against bare `pg_basebackup -Ft -D - | zstd -1 -T2 > file`,
// on a pgbench dataset generated server-side.
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { psqlAdmin } from '../support/psql.js';
import type { AgentProcess } from '../support/agent.js';
import { PG_BIN } from './pg-bin.js';
import type { BenchOptions } from './options.js';
import { cofferRound, deployment, preparedAgent, profileFlags } from './agents.js';
import { benchRoot } from './workdir.js';
import { fileSize, withMachineCpu, mbps, pairSummary, row, run, runPipeline, timed, type Pair, type Row, type Stage, type Teardown } from './harness.js';

const GIB = 1024 ** 3;
// pgbench: one scale unit is 100,000 pgbench_accounts rows, about 15.6 MB with its index.
const BYTES_PER_SCALE = 15.6e6;

/**
 * A pgbench dataset of about `sizeGb` in database bench, generated
 * server-side; then a CHECKPOINT and `sync`, since the generator leaves
 * dirty buffers and files behind whose writeback would land in whichever
 * measurement ran first.
 */
export async function pgbenchDataset(a: AgentProcess, sizeGb: number): Promise<{ scale: number; bytes: number; seconds: number }> {
  // The agent's role over the socket, by peer authentication (we run as root).
  const conn = ['--host', path.join(a.baseDir, 'run'), '--port', String(a.datastorePort), '--username', 'coffer_admin'];
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };
  const created = await psqlAdmin(a.baseDir, a.datastorePort, 'CREATE DATABASE bench');
  if (created.code !== 0) throw new Error(`CREATE DATABASE failed: ${created.stderr}`);
  const scale = Math.max(1, Math.ceil((sizeGb * GIB) / BYTES_PER_SCALE));
  // -I dtGvp: drop, create tables, generate rows server-side, vacuum, primary keys.
  const gen = await timed(() => run([`${PG_BIN}/pgbench`, ...conn, '--initialize', `--scale=${scale}`, '--init-steps=dtGvp', '--quiet', 'bench'], env));
  const size = await psqlAdmin(a.baseDir, a.datastorePort, 'SELECT sum(pg_database_size(datname))::bigint FROM pg_database');
  if (size.code !== 0) throw new Error(`pg_database_size failed: ${size.stderr}`);
  const checkpoint = await psqlAdmin(a.baseDir, a.datastorePort, 'CHECKPOINT');
  if (checkpoint.code !== 0) throw new Error(`CHECKPOINT failed: ${checkpoint.stderr}`);
  await run(['sync']);
  return { scale, bytes: Number(size.stdout), seconds: gen.seconds };
}

export async function benchPostgres(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const S = 'postgres';
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-postgres-');
  const { backupDir, agentArgs } = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'postgresql', agentArgs, profileFlags(o.cpuProf));
  const runDir = path.join(a.baseDir, 'run');
  // The agent's role over the socket, by peer authentication (we run as root),
  // the way the agent's own tools connect: no password exists.
  const conn = ['--host', runDir, '--port', String(a.datastorePort), '--username', 'coffer_admin'];
  const client = [...conn, '--no-password'];
  const env = { ...process.env, LC_ALL: 'C.UTF-8' };

  const { scale, bytes: dataset, seconds } = await pgbenchDataset(a, o.sizeGb);
  rows.push(row({ suite: S, name: `dataset: pgbench --initialize --scale=${scale} --init-steps=dtGvp`, bytes: dataset, seconds, mbps: mbps(dataset, seconds), note: 'bytes = sum of pg_database_size' }));

  // Bare: the same options the agent gives pg_basebackup (agent/managers/postgresql/backup/basebackup.ts).
  const bareFile = path.join(root, 'bare.tar.zst');
  const basebackup = (): Stage => ({ argv: [`${PG_BIN}/pg_basebackup`, ...client, '--pgdata=-', '--format=tar', '--wal-method=fetch', '--checkpoint=fast', '--label=bench'], env });
  // (a'): Coffer's protection by the standard tools (see mariadb.ts).
  const protectedFile = path.join(root, 'protected.tar.zst.enc');
  const protectKey = path.join(root, 'protect.key');
  writeFileSync(protectKey, randomBytes(32).toString('hex'), { mode: 0o600 });
  const pairs: Pair[] = [];
  const protectedPairs: Pair[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const { value: bare, cpuNote: bareCpu } = await withMachineCpu(() => runPipeline([basebackup(), { argv: ['zstd', '-1', '-T2', '-c', '-q'] }], bareFile));
    rows.push(row({ suite: S, name: `(a) bare pg_basebackup -Ft -D - --wal-method=fetch --checkpoint=fast | zstd -1 -T2 > file, round ${r}`, bytes: bare.bytes, seconds: bare.seconds, mbps: mbps(dataset, bare.seconds), note: `MB/s of dataset bytes; ${bareCpu}` }));
    rmSync(bareFile, { force: true });

    const { value: prot, cpuNote: protCpu } = await withMachineCpu(() =>
      runPipeline(
        [basebackup(), { argv: ['zstd', '-1', '-T2', '-c', '-q'] }, { argv: ['openssl', 'enc', '-aes-256-ctr', '-pbkdf2', '-pass', `file:${protectKey}`] }, { argv: ['tee', protectedFile] }, { argv: ['openssl', 'dgst', '-sha256', '-r'] }],
        path.join(root, 'protected.sha256'),
      ),
    );
    rows.push(row({ suite: S, name: `(a') bare protected pg_basebackup ... | zstd -1 -T2 | openssl enc -aes-256-ctr | tee file | openssl dgst -sha256, round ${r}`, bytes: fileSize(protectedFile), seconds: prot.seconds, mbps: mbps(dataset, prot.seconds), note: `MB/s of dataset bytes; ${protCpu}` }));
    rmSync(protectedFile, { force: true });

    const c = await cofferRound(
      a,
      {
        suite: S,
        backupId: `bench-pg-${r}`,
        strategy: 'pg_basebackup',
        name: `(c) Coffer CreateBackup (pg_basebackup, zstd, AES-256-GCM, sha256, local), round ${r}`,
        bareSeconds: bare.seconds,
        mbpsOf: () => dataset,
        note: (raw, ratio, seconds) => `raw tar ${raw} B; speed vs (a') ${(prot.seconds / seconds).toFixed(2)}x (target >= 0.95x), vs (a) ${ratio}x`,
      },
      pairs,
    );
    protectedPairs.push({ bare: prot.seconds, coffer: pairs.at(-1)!.coffer });
    rows.push(c.row);
    rmSync(path.join(backupDir, c.artifact.location!.location), { force: true });
  }
  rows.push(row({ suite: S, name: "(c) vs (a'): Coffer CreateBackup speed as a fraction of bare protected", note: `${pairSummary(protectedPairs).text} (target >= 0.95x)` }));
  rows.push(row({ suite: S, name: '(c) vs (a): Coffer CreateBackup speed as a fraction of bare', note: pairSummary(pairs).text }));
  return rows;
}
