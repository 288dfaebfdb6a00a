// The MariaDB half of continuous archiving, one pass (tick) at a time, run
// every few seconds by binlog-archiving.ts. PostgreSQL hands each closed
// WAL segment to the agent itself (archive_command); MariaDB has no such
// hook, so the pass does it:
//
// - Every closed binary log (every one the server lists but the last) is
//   handed over to the archive core (agent/archive/archiver.ts handOver),
//   which stores it, or answers at once when it is archived already or
//   archiving is off. A hand-over settles only once the object and the
//   catalogue listing it are durable. One that fails leaves the file on
//   the instance, and the next pass hands it over again: a store away makes
//   archiving fall behind, never lose a file.
// - The active file is rotated (FLUSH BINARY LOGS) once it has held a
//   transaction for the archive timeout, less the time to the next pass and
//   an upload: the data at risk stays under the timeout.
// - Purge: the agent owns it (my.cnf renders expire_logs_days = 0). A file
//   goes only once it was handed over (archived, or archiving is off) and is
//   older than the local retention (7 days, what expire_logs_days said
//   before: replicas catching up read them).
//
// Crash safety: nothing is remembered here that the store does not hold.
// An agent killed mid-upload hands the same file over again after its
// restart; a closed binlog never changes, and its object is named after it,
// so the archive holds it once.
import { stat } from 'node:fs/promises';
import type { Logger } from '../../../../lib/logger.js';
import type { BinlogFile, BinlogFiles } from './binlog-files.js';
import { scanBinlog } from './binlog-scan.js';

export const DEFAULT_LOCAL_RETENTION_SECONDS = 7 * 86_400;

export interface BinlogArchiverOptions {
  readonly files: Pick<BinlogFiles, 'list' | 'rotate' | 'purgeBefore'>;
  readonly log: Logger;
  /** Settles once the file is durable in the archive (or needs no archiving); rejects when it could not be archived. */
  readonly handOver: (file: BinlogFile) => Promise<unknown>;
  /** Seconds a transaction may wait in the active file before it is rotated; 0: never forced (archiving off). */
  readonly archiveTimeoutSeconds: () => number;
  readonly localRetentionSeconds?: number;
  /**
   * How much before the timeout the rotation happens: the time until the
   * next pass and the upload (binlog-archiving.ts gives one pass plus 1 s),
   * so that the data at risk stays under the timeout, not one pass over it.
   */
  readonly rotationLeadMs?: () => number;
  readonly now?: () => number;
}

export interface PendingBinlog {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  readonly closedAtMs: number;
}

export interface ArchivePass {
  /** Files handed over in this pass. */
  readonly handedOver: readonly string[];
  /** Closed files not handed over yet after it, oldest first. */
  readonly pending: readonly PendingBinlog[];
  /** Bytes of every binary log left on the instance. */
  readonly localBytes: number;
  readonly rotated: boolean;
  readonly purgedBefore: string;
  /** The first failure of the pass (the store away); its file stays pending. */
  readonly error?: Error;
}

export class BinlogArchiver {
  private readonly now: () => number;
  private readonly retentionMs: number;
  /** Handed over by this agent (the store knows the rest: the core answers those at once). */
  private readonly handed = new Set<string>();

  constructor(private readonly o: BinlogArchiverOptions) {
    this.now = o.now ?? Date.now;
    this.retentionMs = (o.localRetentionSeconds ?? DEFAULT_LOCAL_RETENTION_SECONDS) * 1000;
  }

  /** One pass. Throws only when the server cannot be asked; a failed hand-over ends the pass with `error`. */
  async tick(signal?: AbortSignal): Promise<ArchivePass> {
    let listing = await this.o.files.list();
    let rotated = false;
    const timeout = this.o.archiveTimeoutSeconds();
    if (timeout > 0 && (await this.activeIsDue(listing.active, timeout))) {
      await this.o.files.rotate();
      rotated = true;
      listing = await this.o.files.list();
    }
    const all = [...listing.closed, listing.active];
    const info = new Map<string, { bytes: number; mtimeMs: number }>();
    for (const f of all) {
      const s = await stat(f.path).catch(() => undefined);
      info.set(f.name, { bytes: s?.size ?? 0, mtimeMs: s?.mtimeMs ?? 0 });
    }

    const todo = listing.closed.filter((f) => !this.handed.has(f.name));
    const handedOver: string[] = [];
    let error: Error | undefined;
    if (!signal?.aborted) {
      // Together: the core's uploader bounds how many upload at once.
      const results = await Promise.allSettled(todo.map((f) => this.o.handOver(f)));
      for (const [i, r] of results.entries()) {
        const f = todo[i]!;
        if (r.status === 'fulfilled') {
          this.handed.add(f.name);
          handedOver.push(f.name);
        } else {
          error ??= r.reason instanceof Error ? r.reason : new Error(String(r.reason));
          this.o.log.warn({ err: (r.reason as Error)?.message, binlog: f.name }, 'archiving a binary log failed; it stays on the instance and is handed over again');
        }
      }
    }
    const pending = listing.closed
      .filter((f) => !this.handed.has(f.name))
      .map((f) => ({ name: f.name, path: f.path, bytes: info.get(f.name)!.bytes, closedAtMs: Math.round(info.get(f.name)!.mtimeMs) }));

    // Purge every closed file before the first one to keep.
    const cutoff = this.now() - this.retentionMs;
    const keep = listing.closed.find((f) => !this.handed.has(f.name) || info.get(f.name)!.mtimeMs > cutoff) ?? listing.active;
    let purgedBefore = '';
    if (listing.closed.length > 0 && keep !== listing.closed[0]) {
      try {
        await this.o.files.purgeBefore(keep.name);
        purgedBefore = keep.name;
        for (const f of listing.closed) if (f.sequence < keep.sequence) this.handed.delete(f.name);
        this.o.log.info({ before: keep.name }, 'purged archived binary logs');
      } catch (err) {
        // A replica still reading one of them, say: the next pass tries again.
        this.o.log.warn({ err: (err as Error)?.message, before: keep.name }, 'could not purge archived binary logs');
      }
    }
    let localBytes = 0;
    for (const f of all) if (f.sequence >= keep.sequence || !purgedBefore) localBytes += info.get(f.name)!.bytes;
    return { handedOver, pending, localBytes, rotated, purgedBefore, error };
  }

  /** The active file has held a transaction for `timeout` seconds. */
  private async activeIsDue(active: BinlogFile, timeout: number): Promise<boolean> {
    const s = await scanBinlog(active.path, { untilFirstTransaction: true });
    if (s.transactions === 0) return false;
    const lead = Math.min((timeout * 1000) / 2, this.o.rotationLeadMs?.() ?? 0);
    return this.now() - s.firstTransactionTime * 1000 >= timeout * 1000 - lead;
  }
}
