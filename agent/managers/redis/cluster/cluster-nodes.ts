// CLUSTER NODES and CLUSTER INFO as data: one node's view of the cluster.
// A line is `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent>
// <pong-recv> <config-epoch> <link-state> <slot>...`, where a slot is `n`,
// `a-b`, or, on the `myself` line only, an open slot: `[n->-<id>]`
// (MIGRATING to id) or `[n-<-<id>]` (IMPORTING from id).

export const SLOTS = 16384;

export interface NodeLine {
  readonly id: string;
  /** ip:port as the node announces it (before `@`). */
  readonly addr: string;
  readonly flags: readonly string[];
  /** The id of the master it replicates, '' for a master. */
  readonly master: string;
  readonly configEpoch: number;
  readonly slots: readonly number[];
  readonly migrating: ReadonlyMap<number, string>;
  readonly importing: ReadonlyMap<number, string>;
}

export const isMaster = (n: NodeLine): boolean => n.flags.includes('master');
export const isMyself = (n: NodeLine): boolean => n.flags.includes('myself');
/** Flagged failing (fail) or suspected (fail?) by this node, or not yet a full peer. */
export const isDown = (n: NodeLine): boolean => n.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr');

export function parseClusterNodes(text: string): NodeLine[] {
  const out: NodeLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const [id = '', addr = '', flags = '', master = '-', , , epoch = '0', , ...slotWords] = line.split(' ');
    const slots: number[] = [];
    const migrating = new Map<number, string>();
    const importing = new Map<number, string>();
    for (const w of slotWords) {
      let m = /^\[(\d+)->-([0-9a-f]+)\]$/.exec(w);
      if (m) {
        migrating.set(Number(m[1]), m[2]!);
        continue;
      }
      m = /^\[(\d+)-<-([0-9a-f]+)\]$/.exec(w);
      if (m) {
        importing.set(Number(m[1]), m[2]!);
        continue;
      }
      m = /^(\d+)(?:-(\d+))?$/.exec(w);
      if (!m) continue;
      const a = Number(m[1]);
      const b = m[2] === undefined ? a : Number(m[2]);
      for (let s = a; s <= b; s++) slots.push(s);
    }
    out.push({ id, addr: addr.split('@')[0] ?? '', flags: flags.split(','), master: master === '-' ? '' : master, configEpoch: Number(epoch) || 0, slots, migrating, importing });
  }
  return out;
}

export function parseClusterInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Slot ranges as Redis prints them ("0-5460 5461-10922"), for messages and comparisons. */
export function showSlots(slots: readonly number[]): string {
  const sorted = [...slots].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(' ');
}
