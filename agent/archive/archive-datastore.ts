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
  /** Whether a position is well formed; the reason when not (for INVALID_ARGUMENT). */
  checkPosition(position: string): string | undefined;
  /** Orders two positions of this datastore: negative, 0 or positive. */
  comparePositions(a: string, b: string): number;
  /** Orders two archived objects by log sequence (segment name, binlog number). */
  compareNames(a: string, b: string): number;
  /**
   * Whether `next` follows `prev` with nothing missing between them (the
   * next WAL segment, the next binlog). The planner refuses a gap.
   */
  follows(prev: ArchivedObject, next: ArchivedObject): boolean;
}
