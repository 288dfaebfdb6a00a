// PostgreSQL's write-ahead log positions (pg_lsn): "X/Y", two hexadecimal
// halves of a 64-bit byte position. Compared as numbers, never as strings
// ("0/A0000000" sorts before "0/9000000" as text).
import { invalid } from '../../../errors.js';

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The byte position of an LSN; INVALID_ARGUMENT naming the value when it is not one. */
export function parseLsn(text: string, what = 'transaction id'): bigint {
  const m = LSN.exec(text);
  if (!m) throw invalid(`${what} ${JSON.stringify(text.slice(0, 64))} is not a PostgreSQL WAL position (pg_lsn, e.g. 0/3000148)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(pos: bigint): string {
  return `${(pos >> 32n).toString(16).toUpperCase()}/${(pos & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** True when `current` is at or past `target`. */
export function lsnReached(target: string, current: string): boolean {
  return parseLsn(current, 'current position') >= parseLsn(target, 'target transaction id');
}
