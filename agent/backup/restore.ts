// The restore path, the agent's and its tests' alike, in one of two shapes:
//
// - verify first (logical restores, whose bytes reach a running datastore):
//   every object of a chain is verified (checksum, every frame, the final
//   marker) without writing anything; only then does the consumer read
//   each element's raw bytes, from a second read that must be the very
//   object verified.
// - one pass (physical restores, into a stopped datastore's staging): each
//   object is read once, decrypted and checked while the consumer writes it
//   into a staging place (a work dir, a staging data dir, a .partial file).
//   Every frame is authenticated before its plaintext moves on; the final
//   marker and the sha256 are checked at the object's end, and the
//   consumer's tool only succeeds once its input ended whole (feedTool).
//   consume() resolves only when every element passed every check, so the
//   caller (restore-swap.ts) starts nothing on the data before that, and
//   puts the previous data back if it fails. This saves a whole read,
//   decrypt and hash of the backup (docs/performance.md, replica creation).
import type { Readable } from 'node:stream';
import { openRestore, verifyObject, type PipelineDeps, type RestoreResult } from '../../strategies/backup/pipeline.js';
import { parseCompression } from '../../strategies/backup/compression.js';
import { keyIdOf, unwrapDataKey } from '../../strategies/backup/key-wrap.js';
import type { HandedDataKey } from '../../strategies/backup/crypto-frames.js';
import type { RewrappedKey } from '../../proto/gen/coffer/agent/v1/common.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { AgentError } from '../errors.js';

/** What a chain element's metadata must record for it to be restored. */
export type RestorableElement = Pick<BackupMetadata, 'backupId' | 'checksum' | 'compression' | 'storedBytes' | 'rawBytes'> &
  Partial<Pick<BackupMetadata, 'encryption'>>;

export interface RestoredBytes {
  /** Bytes handed to the consumer. */
  readonly rawBytes: number;
  /** Bytes read from the objects in the restore pass. */
  readonly storedBytes: number;
}

export interface RestoreProgress {
  phase: 'verify' | 'restore';
  message: string;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
}

export interface VerifyChainOptions {
  readonly elements: readonly RestorableElement[];
  /** Opens element i's stored object; called once per pass. */
  readonly open: (i: number) => Promise<Readable> | Readable;
  readonly wrappingKey: Buffer;
  /** Data keys of elements wrapped by a key this agent does not hold, wrapped again for its own (dataKeysFor). */
  readonly rewrapped?: readonly RewrappedKey[];
  readonly signal: AbortSignal;
  readonly onProgress?: (p: RestoreProgress) => void;
  /** At most one progress report per this many ms (the pipeline's default otherwise). */
  readonly progressIntervalMs?: number;
  readonly deps: PipelineDeps;
  /**
   * false: one pass, checked while the consumer stages the bytes (see the
   * top of this file); only for a consumer that writes into a staging place
   * nothing runs on until consume() resolved. Default true.
   */
  readonly verifyFirst?: boolean;
}

export interface VerifiedChain {
  /**
   * Runs the consumer with each element's raw bytes at hand (with zstd,
   * zstd's stdout, which a tool can read directly). Resolves the bytes
   * restored once the consumer succeeded. If it failed, every element it
   * opened is wound down (zstd stopped, the object closed) before the
   * caller hears the reason.
   */
  consume(fn: (rawOf: (i: number) => Promise<Readable>) => Promise<void>): Promise<RestoredBytes>;
}

function integrityFailure(settled: readonly PromiseSettledResult<unknown>[]): Error | undefined {
  for (const r of settled) {
    if (r.status === 'rejected' && (r.reason as { kind?: string })?.kind === 'INTEGRITY') return r.reason as Error;
  }
  return undefined;
}

export async function verifyChain(opts: VerifyChainOptions): Promise<VerifiedChain> {
  const { elements, wrappingKey, signal, deps, progressIntervalMs } = opts;
  const onProgress = opts.onProgress ?? (() => undefined);
  // A key the metadata says is not the backup's is refused before any object is read.
  const dataKeys = dataKeysFor(elements, wrappingKey, opts.rewrapped ?? []);
  const headers: Array<Buffer | undefined> = [];
  const verifyFirst = opts.verifyFirst ?? true;
  for (let i = 0; verifyFirst && i < elements.length; i++) {
    const m = elements[i]!;
    const message = `verifying backup ${m.backupId}`;
    onProgress({ phase: 'verify', message, bytesDone: 0, bytesTotal: m.storedBytes, bytesPerSecond: 0 });
    const v = await verifyObject(await opts.open(i), m.checksum, wrappingKey, {
      dataKey: dataKeys[i],
      signal,
      progressIntervalMs,
      onProgress: (x) => onProgress({ phase: 'verify', message, bytesDone: x.storedBytes, bytesTotal: m.storedBytes, bytesPerSecond: x.storedRate }),
    });
    headers.push(v.header);
  }
  return {
    async consume(fn) {
      const results: Promise<RestoreResult>[] = [];
      const objects: Readable[] = [];
      const outputs: Readable[] = [];
      const rawOf = async (i: number): Promise<Readable> => {
        const m = elements[i]!;
        const message = `restoring backup ${m.backupId}`;
        const object = await opts.open(i);
        objects.push(object);
        const opened = openRestore(
          object,
          {
            wrappingKey,
            dataKey: dataKeys[i],
            expectedSha256: m.checksum,
            compression: parseCompression(m.compression || undefined),
            expectHeader: headers[i],
            signal,
            progressIntervalMs,
            onProgress: (x) => onProgress({ phase: 'restore', message, bytesDone: x.rawBytes, bytesTotal: m.rawBytes, bytesPerSecond: x.rawRate }),
          },
          deps,
        );
        results.push(opened.result);
        outputs.push(opened.output);
        return opened.output;
      };
      onProgress({ phase: 'restore', message: 'restoring into the datastore', bytesDone: 0, bytesTotal: elements.reduce((s, m) => s + m.rawBytes, 0), bytesPerSecond: 0 });
      try {
        await fn(rawOf);
      } catch (err) {
        for (const o of outputs) if (!o.readableEnded) o.destroy();
        for (const o of objects) o.destroy();
        const settled = await Promise.allSettled(results);
        if (signal.aborted && !(err instanceof AgentError)) throw new AgentError('AGENT_ERR_CANCELLED', 'restore was cancelled', { cause: err });
        // One pass: a damaged object usually makes the consumer's tool fail
        // on what it was fed; the object's own check is the reason to give.
        if (!verifyFirst) {
          const bad = integrityFailure(settled);
          if (bad) throw bad;
        }
        throw err;
      }
      // A consumer that stopped reading early without failing: nothing may wait on it.
      for (const o of outputs) if (!o.readableEnded) o.destroy();
      let rawBytes = 0;
      let storedBytes = 0;
      const settled = await Promise.allSettled(results);
      for (const r of settled) {
        if (r.status === 'fulfilled') {
          rawBytes += r.value.rawBytes;
          storedBytes += r.value.storedBytes;
        }
      }
      if (!verifyFirst) {
        // Every element must have been read whole and passed every check.
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        if (results.length !== elements.length) {
          throw new AgentError('AGENT_ERR_INTERNAL', `the restore read ${results.length} of the chain's ${elements.length} backups`);
        }
      }
      return { rawBytes, storedBytes };
    },
  };
}

/**
 * What each element is decrypted with: this agent's own wrapping key
 * (undefined here), or, for an element wrapped by a key it does not hold,
 * the data key the control wrapped again for it. An element wrapped by
 * another key with no such rewrap is refused, naming both keys, before any
 * object is read: another project's backups never unwrap here.
 */
export function dataKeysFor(elements: readonly RestorableElement[], wrappingKey: Buffer, rewrapped: readonly RewrappedKey[]): Array<HandedDataKey | undefined> {
  const own = keyIdOf(wrappingKey);
  return elements.map((m) => {
    const keyId = m.encryption?.keyId;
    if (!keyId || keyId === own) return undefined;
    const r = rewrapped.find((x) => x.backupId === m.backupId);
    if (!r) {
      throw new AgentError(
        'AGENT_ERR_INVALID_ARGUMENT',
        `backup ${m.backupId} is encrypted for wrapping key ${keyId}, and this instance holds key ${own} (its project's): ` +
          'a backup restores only into an instance of the project it was taken in',
      );
    }
    if (r.keyId !== own || (r.originalKeyId && r.originalKeyId !== keyId)) {
      throw new AgentError(
        'AGENT_ERR_INVALID_ARGUMENT',
        `the data key given for backup ${m.backupId} is wrapped for key ${r.keyId} (as a rewrap of key ${r.originalKeyId || '?'}); ` +
          `this instance holds key ${own} and the backup records key ${keyId}`,
      );
    }
    return { keyId, key: unwrapDataKey(Buffer.from(r.wrappedKey), wrappingKey, own) };
  });
}
