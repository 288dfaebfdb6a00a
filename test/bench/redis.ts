// Issue 4, Redis: Coffer's redis-rdb backup (CreateBackup: BGSAVE, the dump
// read by cat straight into zstd -> AES-256-GCM frames -> sha256 -> local
// storage), in BENCH_ROUNDS pairs, against
// `redis-cli --rdb file` (the replication-protocol dump, unencrypted and
// uncompressed beyond the RDB's own LZF), on keys loaded over the unix socket
// with a pipelined ioredis client as the agent's admin user.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { BenchOptions } from './options.js';
import { cofferRound, deployment, preparedAgent } from './agents.js';
import { benchRoot } from './workdir.js';
import { mbps, pairSummary, row, runPipeline, withMachineCpu, type Pair, type Row, type Teardown } from './harness.js';

const GIB = 1024 ** 3;
const ADMIN_USER = 'coffer_admin';
const BATCH = 1000;
const VALUE_BYTES = 1000;

function usedMemory(info: string): number {
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
}

/**
 * Values of 1000 bytes, partly compressible like real data: the key's
 * number, 600 characters of random base64 (about 450 random bytes: what
 * neither LZF nor zstd can shrink), then a run of one letter.
 */
function value(i: number): string {
  return `${i}:${randomBytes(450).toString('base64')}`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26)));
}

export async function benchRedis(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const S = 'redis';
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-redis-');
  const { backupDir, agentArgs } = deployment(root);
  const a = await preparedAgent(td, path.join(root, 'a'), 'redis', agentArgs);
  const socket = path.join(a.baseDir, 'run', 'redis.sock');
  const secret = readFileSync(path.join(a.baseDir, 'agent', 'admin.secret'), 'utf8').trim();
  const redis = new Redis({ path: socket, username: ADMIN_USER, password: secret, lazyConnect: true, maxRetriesPerRequest: null });
  td.teardown(() => redis.disconnect());
  await redis.connect();

  const target = o.redisGb * GIB;
  const started = Date.now();
  let keys = 0;
  let used = usedMemory(await redis.info('memory'));
  while (used < target) {
    // Four pipelines of 1000 SETs in flight at a time.
    await Promise.all(
      [0, 1, 2, 3].map(() => {
        const p = redis.pipeline();
        for (let k = 0; k < BATCH; k++) p.set(`key:${keys + k}`, value(keys + k));
        keys += BATCH;
        return p.exec();
      }),
    );
    if (keys % 100_000 === 0) used = usedMemory(await redis.info('memory'));
  }
  const dbsize = await redis.dbsize();
  const genSeconds = (Date.now() - started) / 1000;
  rows.push(row({ suite: S, name: 'dataset: pipelined SET over the unix socket (ioredis)', bytes: used, seconds: genSeconds, note: `${dbsize} keys of ${VALUE_BYTES}-byte values; bytes = INFO used_memory` }));

  const bareFile = path.join(root, 'bare.rdb');
  const pairs: Pair[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const { value: bare, cpuNote: bareCpu } = await withMachineCpu(() =>
      runPipeline([{ argv: ['redis-cli', '-s', socket, '--user', ADMIN_USER, '--rdb', bareFile], env: { ...process.env, REDISCLI_AUTH: secret } }], null),
    );
    const bareBytes = statSync(bareFile).size;
    rows.push(row({ suite: S, name: `bare redis-cli --rdb file (REDISCLI_AUTH), round ${r}`, bytes: bareBytes, seconds: bare.seconds, mbps: mbps(bareBytes, bare.seconds), note: `MB/s of RDB bytes; ${bareCpu}` }));
    rmSync(bareFile, { force: true });

    const c = await cofferRound(
      a,
      {
        suite: S,
        backupId: `bench-redis-${r}`,
        strategy: 'redis-rdb',
        name: `Coffer CreateBackup (redis-rdb: BGSAVE, zstd, AES-256-GCM, sha256, local), round ${r}`,
        bareSeconds: bare.seconds,
        mbpsOf: (raw) => raw,
        note: (raw, ratio) => `raw RDB ${raw} B (MB/s of RDB bytes); speed vs redis-cli --rdb ${ratio}x`,
      },
      pairs,
    );
    rows.push(c.row);
    rmSync(path.join(backupDir, c.artifact.location!.location), { force: true });
  }
  rows.push(row({ suite: S, name: 'Coffer vs redis-cli --rdb: CreateBackup speed as a fraction of bare', note: `${pairSummary(pairs).text} (no target set)` }));
  return rows;
}
