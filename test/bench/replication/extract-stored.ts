// The one-pass prototypes' common end (mariadb-follow.ts, mariadb-relay.ts):
// stored-format bytes, as they arrive, counted and hashed, decrypted,
// decompressed and extracted by mbstream into a new data directory.
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { spawn } from 'node:child_process';
import { FrameDecryptor } from '../../../strategies/backup/crypto-frames.js';
import { createDecompressor, type CompressionName } from '../../../strategies/backup/compression.js';
import { ProcessRunner } from '../../../lib/process-runner.js';
import { createLogger } from '../../../lib/logger.js';

export interface Extracted {
  /** Stored-format bytes read. */
  readonly storedBytes: number;
  /** Their sha256, hex: compare it with the checksum the source recorded. */
  readonly sha256: string;
}

export async function extractStored(source: AsyncIterable<Buffer>, opts: { wrappingKey: Buffer; compression: CompressionName; dir: string; name: string }): Promise<Extracted> {
  const sha = createHash('sha256');
  let storedBytes = 0;
  const counter = async function* (src: AsyncIterable<Buffer>) {
    for await (const c of src) {
      storedBytes += c.length;
      sha.update(c);
      yield c;
    }
  };
  const log = createLogger({ name: opts.name, level: 'warn' });
  const codec = createDecompressor(opts.compression, { runner: new ProcessRunner(log), log });
  // mbstream as the bench's tool (the harness's own spawn, not the agent's runner).
  const mb = spawn('mbstream', ['-x', '-C', opts.dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  let mbErr = '';
  mb.stderr!.on('data', (d: Buffer) => (mbErr += d.toString()));
  const mbExit = new Promise<number | null>((resolve) => mb.once('exit', (c) => resolve(c)));
  await pipeline(source, counter, new FrameDecryptor({ wrappingKey: opts.wrappingKey }), codec.stream, mb.stdin!);
  await codec.exited;
  const code = await mbExit;
  if (code !== 0) throw new Error(`mbstream exited ${code}: ${mbErr.trim()}`);
  return { storedBytes, sha256: sha.digest('hex') };
}
