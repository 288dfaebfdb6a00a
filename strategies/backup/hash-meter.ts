// Counting and hashing pass-throughs, and the progress meter they feed.
// Hashing happens while the bytes stream (Trove hashed each segment as it
// went) so no stage ever needs to re-read what it wrote.
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { CofferError } from '../../lib/coded-error.js';

export interface HashMeterOptions {
  /** If set, the stream fails at its end unless the bytes' sha256 (hex) is this. */
  readonly expectedSha256?: string;
  /** Called with each chunk's length, e.g. ProgressMeter.addRaw. */
  readonly onBytes?: (n: number) => void;
  /** false: count only (hashing the raw side of a backup would cost CPU for nothing). */
  readonly hash?: boolean;
}

/** Passes bytes through unchanged, computing their sha256 and count. */
export class HashMeter extends Transform {
  bytes = 0;
  private readonly hash: Hash | undefined;
  private digest: string | undefined;

  constructor(private readonly opts: HashMeterOptions = {}) {
    super();
    this.hash = opts.hash === false ? undefined : createHash('sha256');
  }

  /** sha256 of everything that passed, hex; available once the stream has ended. */
  get sha256(): string {
    if (this.digest === undefined) throw new Error('HashMeter: sha256 read before the stream ended');
    return this.digest;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.hash?.update(chunk);
      this.bytes += chunk.length;
      this.opts.onBytes?.(chunk.length);
      cb(null, chunk);
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (!this.hash) return cb();
    this.digest = this.hash.digest('hex');
    const expected = this.opts.expectedSha256?.toLowerCase();
    if (expected !== undefined && !sameHex(expected, this.digest)) {
      return cb(
        new CofferError(
          'INTEGRITY',
          `backup object: checksum mismatch over ${this.bytes} bytes (expected sha256 ${expected}, got ${this.digest})`,
        ),
      );
    }
    cb();
  }
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export interface Progress {
  /** Bytes on the datastore side: read from the source, or written to the destination. */
  readonly rawBytes: number;
  /** Bytes on the storage side: written to, or read from, the object. */
  readonly storedBytes: number;
  /** Smoothed rates, bytes per second. */
  readonly rawRate: number;
  readonly storedRate: number;
  readonly elapsedMs: number;
  /** True on the last report only. */
  readonly done: boolean;
}

export interface ProgressMeterOptions {
  readonly onProgress: (p: Progress) => void;
  /** At most one report per this many ms (default 1000); the final report is always sent. */
  readonly intervalMs?: number;
  /** Weight of past rate samples halves every halfLifeMs (default 5000). */
  readonly halfLifeMs?: number;
  /** Clock in ms; tests hand in a fake one. */
  readonly now?: () => number;
}

/** Throttled progress with exponentially smoothed rates. */
export class ProgressMeter {
  rawBytes = 0;
  storedBytes = 0;
  private readonly intervalMs: number;
  private readonly halfLifeMs: number;
  private readonly now: () => number;
  private readonly started: number;
  private lastAt: number;
  private lastRaw = 0;
  private lastStored = 0;
  private rawRate = 0;
  private storedRate = 0;
  private sampled = false;
  private finished = false;
  private rawProbe: (() => number | undefined) | undefined;

  constructor(private readonly opts: ProgressMeterOptions) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.halfLifeMs = opts.halfLifeMs ?? 5000;
    this.now = opts.now ?? (() => performance.now());
    this.started = this.lastAt = this.now();
  }

  readonly addRaw = (n: number): void => {
    this.rawBytes += n;
    this.maybeReport();
  };

  readonly addStored = (n: number): void => {
    this.storedBytes += n;
    this.maybeReport();
  };

  /**
   * Raw bytes that do not pass through the agent (they flow between two
   * programs) are read from this probe at each report instead of counted.
   */
  probeRaw(probe: () => number | undefined): void {
    this.rawProbe = probe;
  }

  /** Sends the final report (once); `rawTotal` replaces the probed raw count. */
  finish(rawTotal?: number): void {
    if (this.finished) return;
    if (rawTotal !== undefined) this.rawBytes = rawTotal;
    this.rawProbe = undefined;
    this.finished = true;
    this.sample(this.now());
    this.report(true);
  }

  private maybeReport(): void {
    if (this.finished) return;
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) return;
    this.sample(t);
    this.report(false);
  }

  private sample(t: number): void {
    const probed = this.rawProbe?.();
    if (probed !== undefined) this.rawBytes = probed;
    const dt = t - this.lastAt;
    if (dt <= 0) return;
    const raw = ((this.rawBytes - this.lastRaw) * 1000) / dt;
    const stored = ((this.storedBytes - this.lastStored) * 1000) / dt;
    // The first sample is taken as is; later ones are blended by elapsed time,
    // so the rate neither jumps with one slow chunk nor lags for minutes.
    const keep = this.sampled ? Math.pow(0.5, dt / this.halfLifeMs) : 0;
    this.rawRate = keep * this.rawRate + (1 - keep) * raw;
    this.storedRate = keep * this.storedRate + (1 - keep) * stored;
    this.sampled = true;
    this.lastAt = t;
    this.lastRaw = this.rawBytes;
    this.lastStored = this.storedBytes;
  }

  private report(done: boolean): void {
    this.opts.onProgress({
      rawBytes: this.rawBytes,
      storedBytes: this.storedBytes,
      rawRate: this.rawRate,
      storedRate: this.storedRate,
      elapsedMs: this.lastAt - this.started,
      done,
    });
  }
}

/** A ProgressMeter when someone listens, else none (no per-chunk work at all). */
export function progressMeter(onProgress: ((p: Progress) => void) | undefined, intervalMs: number | undefined): ProgressMeter | undefined {
  return onProgress ? new ProgressMeter({ onProgress, intervalMs }) : undefined;
}

/** One onBytes callback for two optional ones (undefined if neither is set: no per-chunk call at all). */
export function bothCounters(a: ((n: number) => void) | undefined, b: ((n: number) => void) | undefined): ((n: number) => void) | undefined {
  if (!a) return b;
  if (!b) return a;
  return (n) => {
    a(n);
    b(n);
  };
}
