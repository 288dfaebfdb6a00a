// What one MariaDB binary log file holds, read from its event headers: the
// GTID state it starts from (its Gtid_list event), the first and last GTID
// it logs, the times of its first and last events, and whether the server
// closed it (a Rotate or Stop event last). This is what an archived binlog
// records beside its bytes, and what restore planning and continuity checks
// read, so the agent never asks mariadb-binlog to print a file only to
// parse the text back.
//
// The format (MariaDB's binlog v4, the same since 5.0): 4 magic bytes, then
// events, each with a 19-byte header: timestamp u32, type u8, server_id u32,
// event_length u32, next_position u32, flags u16, all little-endian. The
// event length includes the 4-byte CRC32 when binlog_checksum is on (the
// default); the bodies read here (GTID, Gtid_list) are at the start of the
// event, so the checksum never matters to this reader.
import { open } from 'node:fs/promises';
import { CofferError } from '../../../../lib/coded-error.js';
import { formatMariadbPosition, type MariadbPosition } from '../replication/gtid.js';

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const WINDOW = 1 << 20;

const STOP_EVENT = 3;
const ROTATE_EVENT = 4;
const FORMAT_DESCRIPTION_EVENT = 15;
const GTID_EVENT = 162;
const GTID_LIST_EVENT = 163;
/** In the format description event's flags while the server has the file open (cleared when it closes it). */
const LOG_EVENT_BINLOG_IN_USE_F = 0x1;

export interface BinlogSummary {
  /** Bytes scanned up to the end of the last whole event (a file still being written may end in a partial one). */
  readonly size: number;
  /** The GTID state before the file's first transaction (its Gtid_list event), "d-s-n,..."; '' when empty. */
  readonly startState: string;
  /** The state after its last transaction: startState with each domain moved to its last GTID here. */
  readonly endState: string;
  /** The first and last GTID the file logs; '' when it logs none. */
  readonly firstGtid: string;
  readonly lastGtid: string;
  /** How many transactions (GTID events) it logs. */
  readonly transactions: number;
  /** Seconds since the epoch (UTC) of the first and last events (the format description, the rotate). */
  readonly firstEventTime: number;
  readonly lastEventTime: number;
  /** Of the first and last transactions (0 when none). */
  readonly firstTransactionTime: number;
  readonly lastTransactionTime: number;
  /** Ended by a Rotate or Stop event and not flagged in use: the server finished writing it. */
  readonly closed: boolean;
}

function corrupt(file: string, why: string): CofferError {
  return new CofferError('INTEGRITY', `${file} is not a readable MariaDB binary log: ${why}`);
}

export interface ScanOptions {
  /** Stop at the first transaction (the active file: is anything in it yet, and since when). */
  readonly untilFirstTransaction?: boolean;
  /** Sees every GTID of the file, in order, with its event's time (seconds, UTC). */
  readonly onGtid?: (gtid: string, timeSeconds: number) => void;
}

/** Reads a binary log's event headers (and its GTID bodies) from start to end. */
export async function scanBinlog(file: string, opts: ScanOptions = {}): Promise<BinlogSummary> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    let buf = Buffer.alloc(0);
    let bufStart = 0;
    /** Makes [pos, pos + n) available in buf; false when the file ends first. */
    const ensure = async (pos: number, n: number): Promise<boolean> => {
      if (pos >= bufStart && pos + n <= bufStart + buf.length) return true;
      if (pos + n > size) return false;
      const want = Math.min(Math.max(WINDOW, n), size - pos);
      const b = Buffer.alloc(want);
      const { bytesRead } = await fh.read(b, 0, want, pos);
      buf = b.subarray(0, bytesRead);
      bufStart = pos;
      return bytesRead >= n;
    };
    if (!(await ensure(0, 4)) || !buf.subarray(0, 4).equals(MAGIC)) throw corrupt(file, 'no binlog magic number');

    const start: MariadbPosition = new Map();
    const end: MariadbPosition = new Map();
    let firstGtid = '';
    let lastGtid = '';
    let transactions = 0;
    let firstEventTime = 0;
    let lastEventTime = 0;
    let firstTransactionTime = 0;
    let lastTransactionTime = 0;
    let inUse = false;
    let lastType = -1;
    let seenList = false;
    let pos = 4;
    while (await ensure(pos, HEADER)) {
      const o = pos - bufStart;
      const when = buf.readUInt32LE(o);
      const type = buf[o + 4]!;
      const serverId = buf.readUInt32LE(o + 5);
      const length = buf.readUInt32LE(o + 9);
      const flags = buf.readUInt16LE(o + 17);
      if (length < HEADER) throw corrupt(file, `an event at byte ${pos} claims ${length} bytes`);
      // A partial last event: the server is still writing it (or died mid-write).
      if (pos + length > size) break;
      if (type === GTID_EVENT || type === GTID_LIST_EVENT) {
        if (!(await ensure(pos, length))) break;
      }
      const b = pos - bufStart + HEADER;
      if (firstEventTime === 0) firstEventTime = when;
      if (when > lastEventTime) lastEventTime = when;
      if (type === FORMAT_DESCRIPTION_EVENT) inUse = (flags & LOG_EVENT_BINLOG_IN_USE_F) !== 0;
      else if (type === GTID_LIST_EVENT && !seenList) {
        seenList = true;
        const count = buf.readUInt32LE(b) & 0x0fffffff;
        if (HEADER + 4 + count * 16 > length) throw corrupt(file, `its Gtid_list event at byte ${pos} is too short for ${count} entries`);
        for (let i = 0; i < count; i++) {
          const e = b + 4 + i * 16;
          const domain = buf.readUInt32LE(e);
          const g = { server: buf.readUInt32LE(e + 4), seq: buf.readBigUInt64LE(e + 8) };
          // The list names each (domain, server) pair; within a domain the
          // highest seq_no is the latest (gtid_strict_mode keeps them rising).
          if ((start.get(domain)?.seq ?? -1n) < g.seq) {
            start.set(domain, g);
            end.set(domain, g);
          }
        }
      } else if (type === GTID_EVENT) {
        if (length < HEADER + 12) throw corrupt(file, `its GTID event at byte ${pos} is too short`);
        const seq = buf.readBigUInt64LE(b);
        const domain = buf.readUInt32LE(b + 8);
        const gtid = `${domain}-${serverId}-${seq}`;
        if (!firstGtid) {
          firstGtid = gtid;
          firstTransactionTime = when;
        }
        lastGtid = gtid;
        lastTransactionTime = when;
        transactions++;
        end.set(domain, { server: serverId, seq });
        opts.onGtid?.(gtid, when);
        if (opts.untilFirstTransaction) {
          pos += length;
          lastType = type;
          break;
        }
      }
      lastType = type;
      pos += length;
    }
    return {
      size: pos,
      startState: formatMariadbPosition(start),
      endState: formatMariadbPosition(end),
      firstGtid,
      lastGtid,
      transactions,
      firstEventTime,
      lastEventTime,
      firstTransactionTime,
      lastTransactionTime,
      closed: !inUse && (lastType === ROTATE_EVENT || lastType === STOP_EVENT),
    };
  } finally {
    await fh.close();
  }
}
