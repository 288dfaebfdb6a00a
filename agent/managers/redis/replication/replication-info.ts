// INFO replication read into what the agent reports. Positions are Redis's
// replication offsets: the byte count of the replication stream, which a
// replica applies as it reads. The transaction id is the offset in decimal,
// compared as a number (BigInt), never as a string.
//
// Offsets of different replication histories are not comparable; within a
// replication set they are: a promoted replica continues its old source's
// offsets under a new replication id (PSYNC2 keeps the old id as replid2),
// so the control can compare members by offset before and after a switchover.
import { invalid } from '../../../errors.js';
import type { ConnectedReplica, ReplicationStatus } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';

const OFFSET = /^\d{1,19}$/;

/** Parses a transaction id; throws INVALID_ARGUMENT for anything but a decimal offset. */
export function parseOffset(id: string, what = 'transaction id'): bigint {
  if (!OFFSET.test(id)) throw invalid(`${what} ${JSON.stringify(id.slice(0, 40))} is not a Redis replication offset (a decimal number of bytes)`);
  return BigInt(id);
}

/** This instance's position: the replication stream it has written (a source) or applied (a replica). */
export function ownOffset(info: Record<string, string>): string {
  return info.master_repl_offset ?? '0';
}

const num = (v: string | undefined, fallback = -1): number => (v !== undefined && /^-?\d+$/.test(v) ? Number(v) : fallback);

/** `slave0:ip=...,port=...,state=online,offset=...,lag=...` */
function connectedReplicas(info: Record<string, string>): ConnectedReplica[] {
  const own = num(info.master_repl_offset, 0);
  const out: ConnectedReplica[] = [];
  for (const [k, v] of Object.entries(info)) {
    if (!/^slave\d+$/.test(k)) continue;
    const f = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
    const offset = num(f.offset);
    out.push({ name: `${f.ip}:${f.port}`, address: `${f.ip}:${f.port}`, lagBytes: offset >= 0 ? Math.max(0, own - offset) : -1 });
  }
  return out;
}

/**
 * Lag of a replica is what it has received and not yet applied
 * (slave_read_repl_offset - slave_repl_offset): 0 on an idle, caught-up
 * replica, never a figure that grows while nothing is written. Seconds: 0
 * when nothing is pending on a live link, otherwise unknown (-1): Redis
 * keeps no timestamps in its stream.
 */
export function statusFromInfo(info: Record<string, string>): Omit<ReplicationStatus, 'role' | 'fenced'> {
  const base = {
    sourceInstanceId: '',
    sourceHost: '',
    sourcePort: 0,
    lagBytes: -1,
    lagSeconds: -1,
    position: ownOffset(info),
    streaming: false,
    lastError: '',
    dialect: 'redis',
    replicas: [] as ConnectedReplica[],
    slots: [],
  };
  if (info.role !== 'slave') return { ...base, replicas: connectedReplicas(info) };
  const up = info.master_link_status === 'up';
  const read = num(info.slave_read_repl_offset);
  const applied = num(info.slave_repl_offset);
  const lagBytes = up && read >= 0 && applied >= 0 ? Math.max(0, read - applied) : -1;
  let lastError = '';
  if (info.master_sync_in_progress === '1') lastError = 'a full synchronisation from the source is in progress';
  else if (!up) lastError = `the link to the source is down${num(info.master_link_down_since_seconds) >= 0 ? ` (for ${info.master_link_down_since_seconds} s)` : ''}; see the server log`;
  return {
    ...base,
    sourceHost: info.master_host ?? '',
    sourcePort: num(info.master_port, 0),
    lagBytes,
    lagSeconds: lagBytes === 0 ? 0 : -1,
    streaming: up,
    lastError,
  };
}
