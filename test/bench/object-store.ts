// Object-store uploads against the bare tools on the same loopback Swift
// (the SAIO the tests use, Swift API and s3api): one file of random bytes
// (incompressible, as an encrypted backup is) uploaded in rounds, each round
// the bare tool then Coffer's store, with the same part size and parts in
// flight:
//   Swift: `swift upload --use-slo --segment-size S --segment-threads N`
//          (python3-swiftclient) against SwiftStorage.save() (SLO, parallel segments);
//   S3:    `aws s3 cp` (aws CLI v1, multipart_chunksize S, max_concurrent_requests N)
//          against S3Storage.save() (multipart upload, parallel UploadPart).
// Coffer's side runs in this process, reading the file through the store's
// sink exactly as the agent's backup pipeline writes into it; the figure is
// the store's upload path, not a whole backup. Credentials reach the tools
// through their environment (ST_KEY, AWS_SECRET_ACCESS_KEY), never argv.
import { createReadStream, writeFileSync, openSync, writeSync, closeSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { SwiftStorage } from '../../strategies/storage/swift.js';
import { S3Storage } from '../../strategies/storage/s3.js';
import { createS3Client } from '../../strategies/storage/s3-client.js';
import { startSwift } from '../support/swift.js';
import { mbps, pairSummary, row, run, timed, type Pair, type Row, type Teardown } from './harness.js';
import type { BenchOptions } from './options.js';
import { which } from '../../lib/which.js';
import { childrenCpuSeconds, SaioUsageProbe, type SaioUsage } from './saio-usage.js';

const S = 'object-store';
const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
const MiB = 1024 * 1024;
const BENCH_SAIO_PORTS = {
  SAIO_PROXY_PORT: '27380',
  SAIO_ACCOUNT_PORT: '27312',
  SAIO_CONTAINER_PORT: '27311',
  SAIO_OBJECT_PORT: '27310',
  SAIO_MEMCACHE_PORT: '27411',
};

/** One upload: wall seconds, the client's CPU-seconds, what it cost the SAIO. */
interface Measured<T> {
  readonly value: T;
  readonly seconds: number;
  readonly clientCpu: number;
  readonly saio: SaioUsage;
}

/** Settles the proxy's access log (it writes a request's line after answering it), then reads what the upload cost. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

export async function benchObjectStore(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  // A SAIO of its own (ports apart from the tests' 27180 set), so that a test
  // file using the shared one meanwhile does not count in its CPU figures.
  for (const [k, v] of Object.entries(BENCH_SAIO_PORTS)) process.env[k] ??= v;
  const saio = await startSwift(td);
  const usage = new SaioUsageProbe(saio.stateDir);
  const dir = mkdtempSync(path.join(o.tmp ?? os.tmpdir(), 'coffer-bench-objstore-'));
  td.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const size = o.objectMb * MiB;
  const partSize = o.partMb * MiB;
  const threads = o.partsInFlight;
  const file = path.join(dir, 'object.bin');
  const fd = openSync(file, 'w', 0o600);
  for (let left = size; left > 0; left -= 4 * MiB) writeSync(fd, randomBytes(Math.min(4 * MiB, left)));
  closeSync(fd);
  const shape = `${o.objectMb} MiB, ${o.partMb} MiB parts, ${threads} in flight`;

  // --- Swift --------------------------------------------------------------
  const container = `bench-${randomBytes(3).toString('hex')}`;
  const swiftEnv = { ...process.env, ST_AUTH: saio.authUrl, ST_USER: saio.user, ST_KEY: saio.key };
  const store = new SwiftStorage({
    auth: { kind: 'tempauth', authUrl: saio.authUrl, user: saio.user, key: saio.key },
    container,
    segmentSize: partSize,
    concurrency: threads,
  });
  const measureBare = async (argv: string[], env: NodeJS.ProcessEnv): Promise<Measured<null>> => {
    const m = usage.mark();
    const cpu0 = childrenCpuSeconds();
    const r = await run(argv, env);
    const clientCpu = childrenCpuSeconds() - cpu0;
    await settle();
    return { value: null, seconds: r.seconds, clientCpu, saio: usage.since(m, partSize) };
  };
  const measureCoffer = async <T>(fn: () => Promise<T>): Promise<Measured<T>> => {
    const m = usage.mark();
    const cpu0 = process.cpuUsage();
    const r = await timed(fn);
    const clientCpu = cpuSeconds(process.cpuUsage(cpu0));
    await settle();
    return { ...r, clientCpu, saio: usage.since(m, partSize) };
  };
  const note = (x: Measured<unknown>, who: string): string => `${who} CPU ${x.clientCpu.toFixed(1)} s; ${x.saio.text}`;
  // Rounds alternate which side goes first, so neither always meets a
  // store that the other has just warmed (or a machine it has just loaded).
  const inOrder = async <A, B>(r: number, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> => {
    if (r % 2 === 1) {
      const x = await a();
      return [x, await b()];
    }
    const y = await b();
    return [await a(), y];
  };

  const swiftPairs: Pair[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const [bare, coffer] = await inOrder(
      r,
      () =>
        measureBare(
          ['swift', 'upload', '--use-slo', '--segment-size', String(partSize), '--segment-threads', String(threads), '--object-name', `bare-${r}`, `${container}-bare`, file],
          swiftEnv,
        ),
      () =>
        measureCoffer(async () => {
          const sink = store.save(`coffer-${r}`, { metadata: { round: String(r) } });
          await pipeline(createReadStream(file, { highWaterMark: 1 * MiB }), sink.stream);
          return sink.done;
        }),
    );
    if (coffer.value.size !== size) throw new Error(`swift: stored ${coffer.value.size} of ${size} bytes`);
    swiftPairs.push({ bare: bare.seconds, coffer: coffer.seconds });
    rows.push(row({ suite: S, name: `swift round ${r}: bare \`swift upload --use-slo\` (${shape})`, bytes: size, seconds: bare.seconds, mbps: mbps(size, bare.seconds), note: note(bare, 'swift upload') }));
    rows.push(row({ suite: S, name: `swift round ${r}: Coffer SwiftStorage.save (SLO, ${shape})`, bytes: size, seconds: coffer.seconds, mbps: mbps(size, coffer.seconds), note: `${(bare.seconds / coffer.seconds).toFixed(2)}x of bare; ${note(coffer, 'this process')}` }));
    await run(['swift', 'delete', `${container}-bare`, `bare-${r}`], swiftEnv);
    await store.delete(coffer.value.location);
  }
  const sw = pairSummary(swiftPairs);
  rows.push(row({ suite: S, name: `swift: Coffer against bare swift upload (${shape})`, note: `${sw.text} (target >= 1.0x)` }));

  // --- S3 (s3api) -------------------------------------------------------
  const bucket = `bench-${randomBytes(3).toString('hex')}`;
  const client = createS3Client({
    endpoint: saio.s3Endpoint,
    region: saio.s3Region,
    forcePathStyle: true,
    credentials: { accessKeyId: saio.s3AccessKey, secretAccessKey: saio.s3SecretKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const s3 = new S3Storage({ client, bucket, partSize, concurrency: threads });
  const aws = which('aws');
  const awsConfig = path.join(dir, 'aws-config');
  writeFileSync(
    awsConfig,
    `[default]\nregion = ${saio.s3Region}\ns3 =\n  multipart_chunksize = ${o.partMb}MB\n  multipart_threshold = ${o.partMb}MB\n  max_concurrent_requests = ${threads}\n  addressing_style = path\n`,
    { mode: 0o600 },
  );
  const awsEnv = {
    ...process.env,
    AWS_CONFIG_FILE: awsConfig,
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_ACCESS_KEY_ID: saio.s3AccessKey,
    AWS_SECRET_ACCESS_KEY: saio.s3SecretKey,
  };
  const s3Pairs: Pair[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    const bareRun = (): Promise<Measured<null> | null> =>
      aws ? measureBare([aws, 's3', 'cp', '--only-show-errors', '--endpoint-url', saio.s3Endpoint, file, `s3://${bucket}/bare-${r}`], awsEnv) : Promise.resolve(null);
    const [bare, coffer] = await inOrder(r, bareRun, () =>
      measureCoffer(async () => {
        const sink = s3.save(`coffer-${r}`, { metadata: { round: String(r) } });
        await pipeline(createReadStream(file, { highWaterMark: 1 * MiB }), sink.stream);
        return sink.done;
      }),
    );
    if (coffer.value.size !== size) throw new Error(`s3: stored ${coffer.value.size} of ${size} bytes`);
    if (bare) {
      s3Pairs.push({ bare: bare.seconds, coffer: coffer.seconds });
      rows.push(row({ suite: S, name: `s3 round ${r}: bare \`aws s3 cp\` (aws CLI v1, ${shape})`, bytes: size, seconds: bare.seconds, mbps: mbps(size, bare.seconds), note: note(bare, 'aws s3 cp') }));
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `bare-${r}` }));
    }
    rows.push(row({ suite: S, name: `s3 round ${r}: Coffer S3Storage.save (multipart, ${shape})`, bytes: size, seconds: coffer.seconds, mbps: mbps(size, coffer.seconds), note: `${bare ? `${(bare.seconds / coffer.seconds).toFixed(2)}x of bare` : 'no aws CLI installed: no bare figure'}; ${note(coffer, 'this process')}` }));
    await s3.delete(coffer.value.location);
  }
  if (s3Pairs.length) rows.push(row({ suite: S, name: `s3: Coffer against bare aws s3 cp (${shape})`, note: pairSummary(s3Pairs).text }));
  return rows;
}
