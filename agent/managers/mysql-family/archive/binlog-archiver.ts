// The MariaDB half of continuous archiving: one pass (tick) at a time,
// run by a timer the agent owns.
//
// - Every closed binary log not in the archive yet is scanned (its GTID and
//   time range, binlog-scan.ts) and shipped, oldest first; a pass stops at
//   the first failure, so the archive never has a hole behind a later file.
// - The active file is rotated (FLUSH BINARY LOGS) once it has held a
//   transaction for the archive timeout: on a quiet server the data at risk
//   stays bounded by it (plus one pass).
// - Purge: the agent owns it (my.cnf renders expire_logs_days = 0). A file
//   goes only once it is archived (when archiving is on) and older than the
//   local retention (7 days, what expire_logs_days said before; replicas
//   catching up read them).
//
// Crash safety: a file counts as archived only once the shipper resolved
// (the object and the catalogue entry durable). An agent killed mid-upload
// ships the same file again under the same key after its restart, from the
// same bytes (a closed binlog never changes), so the archive holds it once.
import { stat } from 'node:fs/promises';
import type { Logger } from '../../../../lib/logger.js';
import type { BinlogFile, BinlogFiles } from './binlog-files.js';
import { scanBinlog, type BinlogSummary } from './binlog-scan.js';

export const DEFAULT_LOCAL_RETENTION_SECONDS = 7 * 86_400;

export interface BinlogArchiverOptions {
  readonly files: Pick<BinlogFiles, 'list' | 'rotate' | 'purgeBefore'>;
  readonly log: Logger;
  /** Archiving on: closed files are shipped, and kept until they are. Off: only purged by age. */
  readonly enabled: () => boolean;
  /** Names already in the archive. */
  readonly archived: () => Promise<ReadonlySet<string>>;
  /** Makes one closed file durable in the archive; resolves only once it is. */
  readonly ship: (file: BinlogFile, summary: BinlogSummary, closedAtMs: number) => Promise<void>;
  readonly archiveTimeoutSeconds: () => number;
  readonly localRetentionSeconds?: number;
  readonly now?: () => number;
}

export interface ArchivePass {
  /** Files shipped in this pass. */
  readonly shipped: readonly string[];
  /** Closed files still not archived after it, oldest first, with their bytes and close times (ms). */
  readonly pending: ReadonlyArray<{ readonly name: string; readonly bytes: number; readonly closedAtMs: number }>;
  /** Bytes of every binary log on the instance. */
  readonly localBytes: number;
  readonly rotated: boolean;
  readonly purgedBefore: string;
  /** The failure that ended the pass early (the store away); files stay pending. */
  readonly error?: Error;
}

export class BinlogArchiver {
  private readonly now: () => number;
  private readonly retentionMs: number;

  constructor(private readonly o: BinlogArchiverOptions) {
    this.now = o.now ?? Date.now;
    this.retentionMs = (o.localRetentionSeconds ?? DEFAULT_LOCAL_RETENTION_SECONDS) * 1000;
  }

  /** One pass. Throws only when the server cannot be asked (it is down); a failed upload ends the pass with `error`. */
  async tick(signal?: AbortSignal): Promise<ArchivePass> {
    const enabled = this.o.enabled();
    let listing = await this.o.files.list();
    let rotated = false;
    if (enabled && (await this.activeIsDue(listing.active))) {
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
    const shipped: string[] = [];
    let error: Error | undefined;
    const archived = enabled ? new Set(await this.o.archived()) : new Set<string>();
    if (enabled) {
      for (const f of listing.closed) {
        if (archived.has(f.name)) continue;
        if (signal?.aborted) break;
        try {
          const summary = await scanBinlog(f.path);
          const closedAtMs = summary.lastEventTime ? summary.lastEventTime * 1000 : Math.round(info.get(f.name)!.mtimeMs);
          await this.o.ship(f, summary, closedAtMs);
          archived.add(f.name);
          shipped.push(f.name);
        } catch (err) {
          error = err instanceof Error ? err : new Error(String(err));
          this.o.log.warn({ err: error.message, binlog: f.name }, 'archiving a binary log failed; it stays on the instance and is tried again');
          break;
        }
      }
    }
    const pending = enabled
      ? listing.closed.filter((f) => !archived.has(f.name)).map((f) => ({ name: f.name, bytes: info.get(f.name)!.bytes, closedAtMs: Math.round(info.get(f.name)!.mtimeMs) }))
      : [];

    // Purge: every closed file before the first one to keep.
    const cutoff = this.now() - this.retentionMs;
    const keep = listing.closed.find((f) => (enabled && !archived.has(f.name)) || info.get(f.name)!.mtimeMs > cutoff) ?? listing.active;
    let purgedBefore = '';
    if (keep !== listing.closed[0] && listing.closed.length > 0) {
      await this.o.files.purgeBefore(keep.name);
      purgedBefore = keep.name;
      this.o.log.info({ before: keep.name }, 'purged binary logs');
    }
    let localBytes = 0;
    for (const f of all) if (!purgedBefore || f.sequence >= keep.sequence) localBytes += info.get(f.name)!.bytes;
    return { shipped, pending, localBytes, rotated, purgedBefore, error };
  }

  /** The active file has held a transaction for the archive timeout. */
  private async activeIsDue(active: BinlogFile): Promise<boolean> {
    const s = await scanBinlog(active.path, { untilFirstTransaction: true });
    if (s.transactions === 0) return false;
    return this.now() - s.firstTransactionTime * 1000 >= this.o.archiveTimeoutSeconds() * 1000;
  }
}
