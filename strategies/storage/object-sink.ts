// The one Writable behind every store's save(): it hashes and counts the
// bytes, hands them to a store-specific upload, commits in `final` and cleans
// up in `destroy`. Stores only say how to write, commit and abort; the stream
// rules (commit only on a clean end, remove partial objects on any other end,
// settle `done` only after either) live here once.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { ObjectSink, SavedObject } from './storage.js';
import { cancelled, reason, storageFailed } from './errors.js';

export interface Written {
  readonly size: number;
  readonly sha256: string;
}

/** What a store does with the bytes of one object. */
export interface Upload {
  /** Takes the next chunk; resolving lets the next one in (backpressure). */
  write(chunk: Buffer, signal: AbortSignal): Promise<void>;
  /** The stream ended cleanly: make the object visible. */
  commit(written: Written, signal: AbortSignal): Promise<SavedObject>;
  /**
   * Removes everything written so far. Called at most once, never after a
   * successful commit, and only after any write/commit call has settled
   * (their signal is aborted first). Throws to report what it left behind.
   */
  abort(): Promise<void>;
}

export interface SinkOptions {
  /** Names the object in messages, e.g. "swift object backups/x". */
  readonly describe: string;
  readonly signal?: AbortSignal;
}

// A small highWaterMark: the stores buffer parts themselves, so the stream
// needs no queue of its own beyond one chunk in flight.
const HIGH_WATER_MARK = 64 * 1024;

export function createObjectSink(upload: Upload, opts: SinkOptions): ObjectSink {
  const hash = createHash('sha256');
  const inner = new AbortController();
  let size = 0;
  let committed = false;
  let pending: Promise<unknown> = Promise.resolve();
  let resolveDone!: (saved: SavedObject) => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<SavedObject>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only watches the stream (pipeline) must not crash the
  // process with an unhandled rejection; awaiting `done` still sees it.
  done.catch(() => {});

  const stream = new Writable({
    highWaterMark: HIGH_WATER_MARK,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      const p = upload.write(chunk, inner.signal);
      pending = p;
      p.then(() => callback(), (err: Error) => callback(err));
    },
    final(callback) {
      const p = upload.commit({ size, sha256: hash.digest('hex') }, inner.signal);
      pending = p;
      p.then(
        (saved) => {
          committed = true;
          resolveDone(saved);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
    destroy(err, callback) {
      if (committed) {
        callback(err);
        return;
      }
      const why = err ?? cancelled(`upload of ${opts.describe} was cancelled before the stream ended`);
      inner.abort(why);
      void (async () => {
        await pending.catch(() => {});
        if (committed) {
          // The commit won the race with this destroy: the object is whole
          // and `done` has resolved; removing it now would lose a backup.
          callback(err);
          return;
        }
        try {
          await upload.abort();
          rejectDone(why);
          callback(err);
        } catch (cleanupErr) {
          // Cleanup-or-report: the caller learns both why the upload failed
          // and what is left in the store for someone to remove.
          const report = storageFailed(`${why.message}; cleanup of ${opts.describe} failed too: ${reason(cleanupErr)}`, why);
          rejectDone(report);
          callback(report);
        }
      })();
    },
  });

  // The same failure settles `done`; a caller that writes directly and awaits
  // `done` must not be crashed by an 'error' event nobody listens to.
  // pipeline() and other listeners still receive it.
  stream.on('error', () => {});

  if (opts.signal) {
    const onAbort = () => stream.destroy(cancelled(`upload of ${opts.describe} was cancelled`));
    if (opts.signal.aborted) process.nextTick(onAbort);
    else {
      opts.signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
    }
  }
  return { stream, done };
}
