// The raw payload of a redis-rdb-acl backup (what the pipeline compresses
// and encrypts): the tenant's ACL users, then the RDB.
//
//   "COFRDBA1"            8 bytes, the format and its version
//   length                4 bytes, unsigned big-endian: the ACL section's size
//   ACL section           `length` bytes of users.acl lines (tenant users only,
//                         password digests only: tenant-acl.ts)
//   RDB                   the rest, byte for byte the server's dump.rdb
//
// A header that is written once, before the dump, lets the dump itself go
// from its file to zstd without passing through the agent (`cat header -`,
// rdb-snapshot.ts). The pipeline's authenticated encryption covers the
// whole payload; the RDB keeps its own CRC64 (redis-check-rdb).
//
// Old backups (strategy redis-rdb) are a bare RDB: which one a backup is,
// is read from its metadata's strategy, and the magic must agree.
import { Transform, type TransformCallback } from 'node:stream';
import { AgentError } from '../../../errors.js';
import { MAX_TENANT_ACL_BYTES } from '../tenant-acl.js';

export const PAYLOAD_MAGIC = Buffer.from('COFRDBA1', 'latin1');
const HEADER = PAYLOAD_MAGIC.length + 4;

/** The bytes that precede the RDB. */
export function payloadHeader(acl: string): Buffer {
  const body = Buffer.from(acl, 'utf8');
  if (body.length > MAX_TENANT_ACL_BYTES) throw new AgentError('AGENT_ERR_DATASTORE', `the ACL users take ${body.length} bytes, more than the ${MAX_TENANT_ACL_BYTES} a backup carries`);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([PAYLOAD_MAGIC, len, body]);
}

const damaged = (why: string): AgentError => new AgentError('AGENT_ERR_INTEGRITY', `the backup is not a redis-rdb-acl payload: ${why}`);

/**
 * Takes the header off a payload stream: what passes through is the RDB;
 * `acl` resolves with the ACL section once it has been read (and rejects if
 * the stream ends or fails first).
 */
export class PayloadSplitter extends Transform {
  readonly acl: Promise<string>;
  private settle!: { resolve: (acl: string) => void; reject: (err: Error) => void };
  private head: Buffer[] = [];
  private headBytes = 0;
  private need = HEADER;
  private done = false;

  constructor() {
    super();
    this.acl = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.acl.catch(() => undefined); // read by the caller after the pipeline, or not at all
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.done) return cb(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < this.need) return cb();
    let all = Buffer.concat(this.head);
    if (this.need === HEADER) {
      if (!all.subarray(0, PAYLOAD_MAGIC.length).equals(PAYLOAD_MAGIC)) return this.fail(damaged('it does not begin with its format mark'), cb);
      const len = all.readUInt32BE(PAYLOAD_MAGIC.length);
      if (len > MAX_TENANT_ACL_BYTES) return this.fail(damaged(`its ACL section claims ${len} bytes`), cb);
      this.need = HEADER + len;
      if (all.length < this.need) {
        this.head = [all];
        return cb();
      }
    }
    all = Buffer.concat(this.head);
    this.done = true;
    this.head = [];
    this.settle.resolve(all.subarray(HEADER, this.need).toString('utf8'));
    const rest = all.subarray(this.need);
    cb(null, rest.length ? rest : undefined);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.done) return this.fail(damaged('it ends inside its header'), cb);
    cb();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (!this.done) this.settle.reject(err ?? damaged('it was not read to the end of its header'));
    cb(err);
  }

  private fail(err: AgentError, cb: TransformCallback): void {
    this.done = true;
    this.settle.reject(err);
    cb(err);
  }
}
