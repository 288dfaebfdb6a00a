// The small per-datastore table the archiving core works from (issue 18,
// docs/pitr.md): everything else (uploading, the catalogue, planning a
// restore to a point) is one core for PostgreSQL and MariaDB/MySQL. A
// manager that can archive exposes one of these as its `archive`
// capability (PostgreSQL: managers/postgresql/archive/, MariaDB/MySQL:
// managers/mysql-family/archive/).
import type { ArchiveKind, ArchivedObject } from '../../strategies/archive/layout.js';

/** A restore target as the core sees it (coffer.agent.v1.RestoreTarget). */
export type PointTarget =
  | { readonly kind: 'time'; readonly unixSeconds: number }
  | { readonly kind: 'position'; readonly position: string };

export interface ArchiveDatastore {
  readonly kind: ArchiveKind;
  /** The name of a position in messages: "LSN" or "GTID". */
  readonly positionName: string;
  /**
   * Whether an object's end position is the last one it holds (a GTID
   * state: the target may be the archive's latest), not the first one past
   * it (an LSN, the default).
   */
  readonly endInclusive?: boolean;
  /** Whether a position is well formed; the reason when not (for INVALID_ARGUMENT). */
  checkPosition(position: string): string | undefined;
  /** Orders two positions of this datastore: negative, 0 or positive. */
  comparePositions(a: string, b: string): number;
  /**
   * Whether an archived file is part of the log sequence (a WAL segment, a
   * binlog) rather than a file kept beside it (a timeline history file):
   * only the sequence makes the restorable window.
   */
  inSequence(name: string): boolean;
  /** Orders two archived objects by log sequence (segment name, binlog number). */
  compareNames(a: string, b: string): number;
  /**
   * Whether `next` follows `prev` with nothing missing between them (the
   * next WAL segment, the next binlog). The planner refuses a gap.
   */
  follows(prev: ArchivedObject, next: ArchivedObject): boolean;
}

/** A closed log file the datastore has not had acknowledged yet. */
export interface WaitingFile {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  /** When it was closed (the file's ready marker, its mtime), ms. */
  readonly closedAtMs: number;
}

/** The range of one closed file, as ArchivedObject records it. */
export interface FileRange {
  readonly startPosition: string;
  readonly endPosition: string;
  readonly timeline: number;
  readonly firstCommitMs: number;
  readonly lastCommitMs: number;
}

/** How far a replay got: the position reached and the last transaction's commit time (ms, 0 when unknown). */
export interface ReachedPoint {
  readonly position: string;
  readonly timeMs: number;
}

/**
 * A manager's archiving capability: the table above plus the few steps that
 * speak to the datastore. The core (archiver.ts, point-restore.ts) does the
 * rest.
 */
export interface ArchiveCapability {
  readonly table: ArchiveDatastore;
  /** The OS group the datastore runs as: the archiving socket is open to it (and root) only. */
  socketGroup(): number;
  /** Whether `name` is a file this datastore archives or asks back; the path of a closed one. */
  isArchiveName(name: string): boolean;
  pathOf(name: string): string;
  /** The range a closed file covers (read from the file). */
  describe(name: string, file: string, signal: AbortSignal): Promise<FileRange>;
  /** Closed files not acknowledged yet, oldest first: the look-ahead uploads them, the status counts them. */
  waiting(): Promise<WaitingFile[]>;
  /** Bytes of change log on the instance (pg_wal, the binlogs). */
  localLogBytes(): Promise<number>;
  /**
   * Renders how the datastore hands closed files over and closes them on a
   * timer (PostgreSQL archive_command and archive_timeout; MariaDB's forced
   * rotation), applied live where the datastore allows; 0 means archiving
   * off. Resolves true when the running datastore must restart to take it
   * (PostgreSQL's archive_mode): the core then restarts it.
   */
  applyArchiving(timeoutSeconds: number): Promise<boolean>;
  /**
   * Replay to a point, after the base backup's data is in place. Before the
   * first start (PostgreSQL: recovery.signal, restore_command through the
   * agent's socket, recovery_target_*), then after it (PostgreSQL: waits
   * until the server has promoted; MariaDB: pipes the binlogs in).
   */
  beforeReplay(target: PointTarget): Promise<void>;
  /**
   * `input` (given by the core): the planned objects, the base backup's end
   * position and a verified fetch of each, for a datastore that reads the
   * archive itself rather than through the local socket (MariaDB).
   */
  replay(target: PointTarget, signal: AbortSignal, input?: ReplayInput): Promise<ReachedPoint>;
  /**
   * Optional, for a datastore with no archive_command (MariaDB): while the
   * agent runs, the capability finds closed files itself and hands each to
   * `handOver` (the archiver's), on its own timer. Returns how to stop it.
   */
  drive?(handOver: (name: string) => Promise<unknown>): { stop(): Promise<void> };
}

/** What a replay reads when the datastore does not fetch through the local socket. */
export interface ReplayInput {
  /** In log order, from the one holding the base backup's end. */
  readonly objects: readonly ArchivedObject[];
  /** The base backup's end position: only what follows it is applied. */
  readonly startPosition: string;
  /** The file's bytes, verified whole (every frame, the sha256) before they are returned. */
  fetch(name: string, signal: AbortSignal): Promise<Buffer>;
}
