// PostgreSQL's row of the archiving table (agent/archive/archive-datastore.ts):
// WAL segment names, LSNs and their order. A segment's file name is its
// timeline and its position, "TTTTTTTTXXXXXXXXYYYYYYYY" in hex, with the
// 16 MiB segments initdb makes by default (the agent never changes it).
import type { ArchiveDatastore } from '../../../archive/archive-datastore.js';
import type { ArchivedObject } from '../../../../strategies/archive/layout.js';

export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;
const SEGMENTS_PER_XLOGID = 0x1_0000_0000 / WAL_SEGMENT_BYTES;

/** A WAL segment's file name; the .history, .partial and .backup files are other names. */
export const SEGMENT_NAME = /^[0-9A-F]{24}$/;
/** Everything PostgreSQL archives or asks to restore: segments, partial segments, timeline history, backup history. */
export const WAL_FILE_NAME = /^(?:[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/;
const LSN = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i;

export function parseLsn(lsn: string): bigint {
  const m = LSN.exec(lsn);
  if (!m) throw new TypeError(`${JSON.stringify(lsn)} is not an LSN like 0/3000060`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface SegmentId {
  readonly timeline: number;
  /** The segment's number from LSN 0. */
  readonly segment: bigint;
}

export function parseSegmentName(name: string): SegmentId {
  if (!SEGMENT_NAME.test(name)) throw new TypeError(`${JSON.stringify(name)} is not a WAL segment name`);
  const timeline = parseInt(name.slice(0, 8), 16);
  const log = BigInt(`0x${name.slice(8, 16)}`);
  const seg = BigInt(`0x${name.slice(16, 24)}`);
  return { timeline, segment: log * BigInt(SEGMENTS_PER_XLOGID) + seg };
}

/** The LSN range [start, end) a segment covers. */
export function segmentRange(name: string): { start: string; end: string; timeline: number } {
  const { timeline, segment } = parseSegmentName(name);
  const start = segment * BigInt(WAL_SEGMENT_BYTES);
  return { start: formatLsn(start), end: formatLsn(start + BigInt(WAL_SEGMENT_BYTES)), timeline };
}

export const pgArchiveTable: ArchiveDatastore = Object.freeze({
  kind: 'wal' as const,
  positionName: 'LSN',
  checkPosition(position: string): string | undefined {
    return LSN.test(position) ? undefined : 'an LSN is two hex numbers, like 0/3000060';
  },
  comparePositions(a: string, b: string): number {
    const x = parseLsn(a);
    const y = parseLsn(b);
    return x < y ? -1 : x > y ? 1 : 0;
  },
  inSequence: (name: string): boolean => SEGMENT_NAME.test(name),
  compareNames(a: string, b: string): number {
    // Same-length upper-case hex: text order is position order, timeline first.
    return a < b ? -1 : a > b ? 1 : 0;
  },
  follows(prev: ArchivedObject, next: ArchivedObject): boolean {
    if (!SEGMENT_NAME.test(prev.name) || !SEGMENT_NAME.test(next.name)) return false;
    const p = parseSegmentName(prev.name);
    const n = parseSegmentName(next.name);
    // A promotion starts a new timeline in the middle of a segment: the
    // next timeline's copy of the same segment continues it.
    return n.segment === p.segment + 1n || (n.timeline > p.timeline && n.segment === p.segment);
  },
});
