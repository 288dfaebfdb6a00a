// MariaDB GTID positions as the archive core orders them (the archive
// table of archive/capability.ts), and what makes one archived binlog follow
// another with nothing missing.
//
// A position is a list of domain-server-seq, one per replication domain.
// Within a domain transactions are ordered by seq_no (gtid_strict_mode);
// across domains there is no order, so two positions compare as "before"
// only when no domain of the first is ahead of the second.
import { parseMariadbPosition, type MariadbPosition } from '../replication/gtid.js';
import { sequenceOf } from './binlog-files.js';

/** The reason a position is malformed, or undefined. */
export function checkGtidPosition(position: string): string | undefined {
  if (position.trim() === '') return 'a GTID position is empty';
  try {
    parseMariadbPosition(position);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Negative when `a` is before `b` (b includes a and more), 0 when equal,
 * positive when `a` is ahead. Positions ahead in one domain and behind in
 * another (incomparable) order by the sum of their seq_nos, a total order
 * that agrees with every comparable pair.
 */
export function compareGtidPositions(a: string, b: string): number {
  const pa = parseMariadbPosition(a);
  const pb = parseMariadbPosition(b);
  let ahead = false;
  let behind = false;
  for (const d of new Set([...pa.keys(), ...pb.keys()])) {
    const sa = pa.get(d)?.seq ?? 0n;
    const sb = pb.get(d)?.seq ?? 0n;
    if (sa > sb) ahead = true;
    if (sa < sb) behind = true;
  }
  if (!ahead && !behind) return 0;
  if (ahead && !behind) return 1;
  if (behind && !ahead) return -1;
  const sum = (p: MariadbPosition): bigint => [...p.values()].reduce((s, g) => s + g.seq, 0n);
  const d = sum(pa) - sum(pb);
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** Domain by domain equal seq_nos (the server ids of equal seq_nos agree on a strict server). */
export function sameGtidPosition(a: string, b: string): boolean {
  const pa = parseMariadbPosition(a);
  const pb = parseMariadbPosition(b);
  for (const d of new Set([...pa.keys(), ...pb.keys()])) {
    if ((pa.get(d)?.seq ?? 0n) !== (pb.get(d)?.seq ?? 0n)) return false;
  }
  return true;
}

export function compareBinlogNames(a: string, b: string): number {
  return sequenceOf(a) - sequenceOf(b);
}

/**
 * `next` is the file the server opened when it closed `prev`: the next
 * number, starting from the GTID state `prev` ended in (its Gtid_list
 * event). A missing file, or a history reset between them, breaks this.
 */
export function binlogFollows(prev: { name: string; endPosition: string }, next: { name: string; startPosition: string }): boolean {
  return sequenceOf(next.name) === sequenceOf(prev.name) + 1 && sameGtidPosition(prev.endPosition, next.startPosition);
}
