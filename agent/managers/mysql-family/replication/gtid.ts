// GTID positions of the MySQL family, compared as the servers order them,
// never as strings.
//
// MariaDB: a list of domain-server-seq, one per replication domain
// ("0-1-7,1-2-3"). Within a domain, transactions are ordered by seq_no (the
// server id only says who wrote it), so a position includes another when,
// domain by domain, its seq_no is at least the other's.
//
// Oracle MySQL: a GTID set, source uuid and intervals ("uuid:1-5:7,uuid2:1-3");
// one includes another when it holds every interval of it.
import { invalid } from '../../../errors.js';

/** MariaDB: domain id -> { server id, seq_no }. */
export type MariadbPosition = Map<number, { server: number; seq: bigint }>;
/** MySQL: lower-case uuid -> sorted, merged [start, end] intervals. */
export type MysqlGtidSet = Map<string, Array<[bigint, bigint]>>;

const MAX_ID_TEXT = 4096;
const U32 = /^\d{1,10}$/;
const U64 = /^\d{1,20}$/;

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text);
}

/** Which notation a transaction id is in ('' is MariaDB's empty position). */
export function notationOf(text: string): 'mariadb' | 'mysql' {
  return text.includes(':') ? 'mysql' : 'mariadb';
}

export function parseMariadbPosition(text: string): MariadbPosition {
  if (text.length > MAX_ID_TEXT) throw invalid(`GTID position is longer than ${MAX_ID_TEXT} characters`);
  const out: MariadbPosition = new Map();
  const trimmed = text.trim();
  if (trimmed === '') return out;
  for (const raw of trimmed.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (!m || !U32.test(m[1]!) || !U32.test(m[2]!) || !U64.test(m[3]!)) {
      throw invalid(`GTID position ${show(text)} is malformed: "${part.slice(0, 40)}" is not domain-server-seq (e.g. 0-1-42)`);
    }
    const domain = Number(m[1]);
    const server = Number(m[2]);
    const seq = BigInt(m[3]!);
    if (domain > 0xffffffff || server > 0xffffffff || seq > 0xffffffffffffffffn) throw invalid(`GTID position ${show(text)} has a number out of range`);
    if (out.has(domain)) throw invalid(`GTID position ${show(text)} names domain ${domain} twice`);
    out.set(domain, { server, seq });
  }
  return out;
}

export function formatMariadbPosition(pos: MariadbPosition): string {
  return [...pos.entries()].sort(([a], [b]) => a - b).map(([d, g]) => `${d}-${g.server}-${g.seq}`).join(',');
}

export function parseMysqlGtidSet(text: string): MysqlGtidSet {
  if (text.length > MAX_ID_TEXT) throw invalid(`GTID set is longer than ${MAX_ID_TEXT} characters`);
  const out: MysqlGtidSet = new Map();
  const trimmed = text.replace(/\s+/g, '');
  if (trimmed === '') return out;
  for (const part of trimmed.split(',')) {
    const [uuidRaw, ...ranges] = part.split(':');
    const uuid = (uuidRaw ?? '').toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid) || ranges.length === 0) {
      throw invalid(`GTID set ${show(text)} is malformed: "${part.slice(0, 60)}" is not uuid:interval[:interval...]`);
    }
    const list = out.get(uuid) ?? [];
    for (const r of ranges) {
      const m = /^(\d{1,19})(?:-(\d{1,19}))?$/.exec(r);
      const start = m ? BigInt(m[1]!) : 0n;
      const end = m ? BigInt(m[2] ?? m[1]!) : 0n;
      if (!m || start < 1n || end < start) throw invalid(`GTID set ${show(text)} has a bad interval "${r.slice(0, 40)}"`);
      list.push([start, end]);
    }
    out.set(uuid, merge(list));
  }
  return out;
}

function merge(list: Array<[bigint, bigint]>): Array<[bigint, bigint]> {
  const sorted = [...list].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1n) last[1] = e > last[1] ? e : last[1];
    else out.push([s, e]);
  }
  return out;
}

/**
 * True when `current` includes `target`. Both must be in one notation;
 * malformed or mixed ids are INVALID_ARGUMENT.
 */
export function reached(target: string, current: string): boolean {
  const t = notationOf(target);
  const c = current.trim() === '' ? t : notationOf(current);
  if (t !== c) throw invalid(`cannot compare ${show(target)} with ${show(current)}: one is a MariaDB GTID position, the other a MySQL GTID set`);
  if (t === 'mariadb') {
    const want = parseMariadbPosition(target);
    const have = parseMariadbPosition(current);
    for (const [domain, g] of want) {
      const h = have.get(domain);
      if (!h || h.seq < g.seq) return false;
    }
    return true;
  }
  const want = parseMysqlGtidSet(target);
  const have = parseMysqlGtidSet(current);
  for (const [uuid, intervals] of want) {
    const h = have.get(uuid) ?? [];
    for (const [s, e] of intervals) {
      if (!h.some(([hs, he]) => hs <= s && e <= he)) return false;
    }
  }
  return true;
}

/**
 * MariaDB: the part of `local` that `other` does not include, domain by
 * domain (local's last GTID of each domain where it is ahead); '' when
 * `other` includes all of it.
 */
export function mariadbAhead(local: string, other: string): string {
  const mine = parseMariadbPosition(local);
  const theirs = parseMariadbPosition(other);
  const ahead: MariadbPosition = new Map();
  for (const [domain, g] of mine) {
    const t = theirs.get(domain);
    if (!t || t.seq < g.seq) ahead.set(domain, g);
  }
  return formatMariadbPosition(ahead);
}

/**
 * MariaDB: transactions in `received` not yet in `applied`, summed over
 * domains (seq_nos of a domain are one run); -1 when that cannot be told (a
 * domain applied that the received position does not name).
 */
export function mariadbPending(received: string, applied: string): number {
  const r = parseMariadbPosition(received);
  const a = parseMariadbPosition(applied);
  let total = 0n;
  for (const [domain, g] of r) {
    const done = a.get(domain);
    const base = done ? done.seq : 0n;
    if (g.seq > base) total += g.seq - base;
  }
  for (const domain of a.keys()) if (!r.has(domain)) return -1;
  return total > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(total);
}
