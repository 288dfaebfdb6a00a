// The byte format of a pg_dump backup: several tools' outputs (pg_dumpall's
// roles, one pg_dump custom archive per database) in one stream, framed so
// that each can be fed to its restore tool without staging anything on disk
// (a dump as large as the volume must not need a second volume's worth of
// space). Layout, all integers big-endian uint32:
//
//   MAGIC
//   ( 'P' len name  ( 'D' len bytes )*  'E' )*
//   'Z' count
//
// The trailer's part count makes a truncated stream detectable even when it
// is cut exactly between two parts. Integrity against tampering is the
// backup pipeline's job (authenticated encryption); this framing only has
// to be unambiguous.
import { AgentError } from '../../../errors.js';

export const MAGIC = Buffer.from('COFFER-PGDUMP\x01\n', 'latin1');
const PART = 0x50; // P
const DATA = 0x44; // D
const END = 0x45; // E
const TRAILER = 0x5a; // Z
const MAX_NAME = 256;

const frame = (tag: number, n: number): Buffer => {
  const b = Buffer.alloc(5);
  b[0] = tag;
  b.writeUInt32BE(n, 1);
  return b;
};

export function partHeader(name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([frame(PART, n.length), n]);
}

export const dataHeader = (length: number): Buffer => frame(DATA, length);
export const PART_END = Buffer.from([END]);
export const trailer = (count: number): Buffer => frame(TRAILER, count);

const broken = (why: string): AgentError => new AgentError('AGENT_ERR_INTEGRITY', `the pg_dump backup is malformed: ${why}`);

/** Reads exact byte counts from an async iterator of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.chunks.push(chunk);
    this.length += chunk.length;
    return true;
  }

  async exact(n: number, what: string): Promise<Buffer> {
    while (this.length < n) if (!(await this.more())) throw broken(`it ends inside ${what}`);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return all.subarray(0, n);
  }

  /** At least one and at most n bytes. */
  async upTo(n: number, what: string): Promise<Buffer> {
    if (this.length === 0 && !(await this.more())) throw broken(`it ends inside ${what}`);
    const first = this.chunks[0]!;
    const take = first.subarray(0, n);
    if (take.length === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= take.length;
    return take;
  }

  async atEnd(): Promise<boolean> {
    return this.length === 0 && !(await this.more());
  }
}

export interface ArchivePart {
  readonly name: string;
  /** The part's bytes; read it to the end before asking for the next part. */
  readonly body: AsyncGenerator<Buffer>;
}

export async function* readArchive(source: AsyncIterable<Buffer>): AsyncGenerator<ArchivePart> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  if (!(await r.exact(MAGIC.length, 'the header')).equals(MAGIC)) throw broken('it does not start with the Coffer pg_dump header');
  let count = 0;
  for (;;) {
    const tag = (await r.exact(1, 'a frame tag'))[0];
    if (tag === TRAILER) {
      const declared = (await r.exact(4, 'the trailer')).readUInt32BE(0);
      if (declared !== count) throw broken(`the trailer counts ${declared} parts, the stream held ${count}`);
      if (!(await r.atEnd())) throw broken('bytes follow the trailer');
      return;
    }
    if (tag !== PART) throw broken(`unexpected frame tag ${tag}`);
    const len = (await r.exact(4, 'a part header')).readUInt32BE(0);
    if (len === 0 || len > MAX_NAME) throw broken(`a part name of ${len} bytes`);
    const name = (await r.exact(len, 'a part name')).toString('utf8');
    let finished = false;
    const body = (async function* (): AsyncGenerator<Buffer> {
      for (;;) {
        const t = (await r.exact(1, `part ${name}`))[0];
        if (t === END) break;
        if (t !== DATA) throw broken(`unexpected frame tag ${t} in part ${name}`);
        let left = (await r.exact(4, `part ${name}`)).readUInt32BE(0);
        while (left > 0) {
          const piece = await r.upTo(left, `part ${name}`);
          left -= piece.length;
          yield piece;
        }
      }
      finished = true;
    })();
    yield { name, body };
    // A consumer that stopped early: skip the rest of its part.
    if (!finished) for await (const _ of body) void _;
    if (!finished) throw new Error(`part ${name} was abandoned before its end`);
    count += 1;
  }
}
