// A pass-through that reads the tar stream pg_basebackup writes and keeps
// the members the metadata comes from: backup_label (start WAL position,
// timeline) and the end of backup_manifest (the WAL range, whose End-LSN is
// the stop position). Bytes pass unchanged; nothing is buffered but those.
// pg_basebackup writes plain ustar headers (no pax or GNU long names).
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;
const KEEP_TAIL = 16 * 1024;

export interface InspectedMembers {
  label: string | null;
  manifestTail: string | null;
  members: number;
}

export class TarInspector extends Transform {
  readonly found: InspectedMembers = { label: null, manifestTail: null, members: 0 };
  private header = Buffer.alloc(0);
  private name = '';
  private left = 0; // data bytes of the current member still to come
  private pad = 0; // padding bytes after them
  private kept: Buffer[] = [];

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - off);
        this.keep(chunk.subarray(off, off + n));
        off += n;
        this.left -= n;
        if (this.left === 0) this.close();
      } else if (this.pad > 0) {
        const n = Math.min(this.pad, chunk.length - off);
        off += n;
        this.pad -= n;
      } else {
        const n = Math.min(BLOCK - this.header.length, chunk.length - off);
        this.header = Buffer.concat([this.header, chunk.subarray(off, off + n)]);
        off += n;
        if (this.header.length === BLOCK) this.open();
      }
    }
    cb(null, chunk);
  }

  private open(): void {
    const h = this.header;
    this.header = Buffer.alloc(0);
    if (h.every((b) => b === 0)) return; // end-of-archive blocks
    const field = (start: number, len: number): string => h.subarray(start, start + len).toString('latin1').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    this.name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    this.left = Number.isFinite(size) ? size : 0;
    this.pad = (BLOCK - (this.left % BLOCK)) % BLOCK;
    this.kept = [];
    this.found.members += 1;
    if (this.left === 0) this.close();
  }

  private keep(data: Buffer): void {
    if (this.name !== 'backup_label' && this.name !== 'backup_manifest') return;
    this.kept.push(Buffer.from(data));
    if (this.name === 'backup_manifest') {
      // Only the end matters (the WAL-Ranges section); bound the memory.
      let total = this.kept.reduce((s, b) => s + b.length, 0);
      while (total - this.kept[0]!.length >= KEEP_TAIL) total -= this.kept.shift()!.length;
    }
  }

  private close(): void {
    if (this.name === 'backup_label') this.found.label = Buffer.concat(this.kept).toString('utf8');
    if (this.name === 'backup_manifest') this.found.manifestTail = Buffer.concat(this.kept).toString('utf8');
    this.kept = [];
  }
}

/** START WAL LOCATION: 0/2000028 (file 000000010000000000000002) */
export function parseLabel(label: string): { startLsn: string; startWal: string; timeline: string } | null {
  const m = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(label);
  const tli = /^START TIMELINE: (\d+)$/m.exec(label);
  return m ? { startLsn: m[1]!, startWal: m[2]!, timeline: tli?.[1] ?? '' } : null;
}

/** The last WAL range of the manifest: { "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" } */
export function parseManifestTail(tail: string): { stopLsn: string } | null {
  const all = [...tail.matchAll(/"End-LSN":\s*"([0-9A-F]+\/[0-9A-F]+)"/g)];
  const last = all.at(-1);
  return last ? { stopLsn: last[1]! } : null;
}
