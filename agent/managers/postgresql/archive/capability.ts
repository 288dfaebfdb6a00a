// PostgreSQL's archiving capability (agent/archive/archive-datastore.ts):
// WAL segments handed over by archive_command (commands.ts), their range
// from their name and pg_waldump (waldump.ts), the segments waiting in
// pg_wal/archive_status, and the replay to a point (recovery.ts).
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ArchiveCapability, FileRange, PointTarget, ReachedPoint, WaitingFile } from '../../../archive/archive-datastore.js';
import type { Layout } from '../../../layout.js';
import type { OsUser } from '../../../../lib/os-user.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { archiveSocketPath } from '../../../archive/local-socket-path.js';
import type { PgClient } from '../pg-client.js';
import { awaitPromotion, writeRecoveryTarget } from './recovery.js';
import { pgArchiveTable, SEGMENT_NAME, segmentRange, WAL_FILE_NAME } from './wal.js';
import { segmentCommitTimes } from './waldump.js';

export interface PgArchiveContext {
  readonly version: string;
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly sql: PgClient;
  readonly pgUser: () => OsUser;
  /** Renders postgresql.conf again (the archive timeout is read from the settings file). */
  readonly rewriteConfig: () => Promise<void>;
  /** Whether the server runs now (a reload is then due). */
  readonly running: () => boolean;
}

export class PgArchive implements ArchiveCapability {
  readonly table = pgArchiveTable;

  constructor(private readonly ctx: PgArchiveContext) {}

  private get walDir(): string {
    return path.join(this.ctx.layout.dataDir, 'pg_wal');
  }

  socketGroup(): number {
    return this.ctx.pgUser().gid;
  }

  isArchiveName(name: string): boolean {
    return WAL_FILE_NAME.test(name);
  }

  pathOf(name: string): string {
    if (!WAL_FILE_NAME.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a WAL file name`);
    return path.join(this.walDir, name);
  }

  async describe(name: string, file: string, signal: AbortSignal): Promise<FileRange> {
    if (!SEGMENT_NAME.test(name)) {
      // Timeline history and backup history files: kept, served back, outside the sequence.
      return { startPosition: '0/0', endPosition: '0/0', timeline: parseInt(name.slice(0, 8), 16) || 0, firstCommitMs: 0, lastCommitMs: 0 };
    }
    const range = segmentRange(name);
    const times = await segmentCommitTimes(this.ctx.runner, this.ctx.version, file, signal);
    return { startPosition: range.start, endPosition: range.end, timeline: range.timeline, firstCommitMs: times.first, lastCommitMs: times.last };
  }

  async waiting(): Promise<WaitingFile[]> {
    const statusDir = path.join(this.walDir, 'archive_status');
    let entries: string[];
    try {
      entries = await readdir(statusDir);
    } catch {
      return [];
    }
    const out: WaitingFile[] = [];
    for (const e of entries.sort()) {
      if (!e.endsWith('.ready')) continue;
      const name = e.slice(0, -'.ready'.length);
      if (!WAL_FILE_NAME.test(name)) continue;
      try {
        const [marker, file] = await Promise.all([stat(path.join(statusDir, e)), stat(path.join(this.walDir, name))]);
        out.push({ name, path: path.join(this.walDir, name), bytes: file.size, closedAtMs: marker.mtimeMs });
      } catch {
        // Archived and removed meanwhile.
      }
    }
    return out;
  }

  async localLogBytes(): Promise<number> {
    let total = 0;
    try {
      for (const e of await readdir(this.walDir, { withFileTypes: true })) {
        if (e.isFile()) total += (await stat(path.join(this.walDir, e.name)).catch(() => ({ size: 0 }))).size;
      }
    } catch {
      return 0;
    }
    return total;
  }

  async applyArchiving(timeoutSeconds: number): Promise<boolean> {
    // archive_timeout takes a reload; archive_mode a restart (the caller's).
    await this.ctx.rewriteConfig();
    if (!this.ctx.running()) return false;
    await this.ctx.sql.query('SELECT pg_reload_conf()');
    const [r] = await this.ctx.sql.query("SELECT current_setting('archive_mode') AS mode");
    return (r?.mode === 'on') !== timeoutSeconds > 0;
  }

  async beforeReplay(target: PointTarget): Promise<void> {
    writeRecoveryTarget(this.ctx.layout.etcDir, this.ctx.layout.dataDir, target, archiveSocketPath(this.ctx.layout), this.ctx.pgUser());
  }

  replay(_target: PointTarget, signal: AbortSignal): Promise<ReachedPoint> {
    return awaitPromotion(this.ctx.sql, this.ctx.layout.etcDir, signal);
  }
}
