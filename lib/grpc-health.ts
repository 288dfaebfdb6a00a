// The standard grpc.health.v1.Health service (Check, Watch, List), with its
// three small messages coded by hand. grpc-health-check, which served it
// before, parses its .proto with @grpc/proto-loader and protobufjs when it is
// imported: about 2 MB of heap (and 8 MB of resident memory) in every agent
// for messages of one string and one enum (docs/performance.md). Behaviour
// is the library's: Check of an unknown service is NOT_FOUND, Watch sends
// the current status then every change, List at most 100 services.
import * as grpc from '@grpc/grpc-js';

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
const STATUS_NUMBER: Readonly<Record<ServingStatus, number>> = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };
const LIST_LIMIT = 100;

// --- protobuf wire format, just what these messages need -------------------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let n = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [n, pos];
    shift += 7;
    if (shift > 49) throw new Error('varint too long');
  }
}

/** HealthCheckRequest: `string service = 1`; other fields are skipped. */
export function decodeCheckRequest(buf: Buffer): { service: string } {
  let service = '';
  for (let pos = 0; pos < buf.length; ) {
    let key: number;
    [key, pos] = readVarint(buf, pos);
    const wire = key & 7;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error('truncated field');
      if (key >>> 3 === 1) service = buf.toString('utf8', pos, pos + len);
      pos += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return { service };
}

const lengthDelimited = (field: number, bytes: Buffer): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(bytes.length)]), bytes]);

/** HealthCheckResponse: `ServingStatus status = 1` (UNKNOWN, the default, is no bytes). */
export function encodeCheckResponse(r: { status: ServingStatus }): Buffer {
  const n = STATUS_NUMBER[r.status];
  return n === 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...varint(n)]);
}

/** HealthListResponse: `map<string, HealthCheckResponse> statuses = 1`. */
function encodeListResponse(r: { statuses: Map<string, ServingStatus> }): Buffer {
  const entries = [...r.statuses].map(([name, status]) =>
    lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(name, 'utf8')), lengthDelimited(2, encodeCheckResponse({ status }))])),
  );
  return Buffer.concat(entries);
}

const method = <Req, Res>(name: string, responseStream: boolean, decode: (b: Buffer) => Req, encode: (r: Res) => Buffer): grpc.MethodDefinition<Req, Res> => ({
  path: `/grpc.health.v1.Health/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: () => {
    throw new Error('server side only');
  },
  requestDeserialize: decode,
  responseSerialize: encode,
  responseDeserialize: () => {
    throw new Error('server side only');
  },
  originalName: name[0]!.toLowerCase() + name.slice(1),
});

export const HEALTH_SERVICE: grpc.ServiceDefinition = {
  Check: method('Check', false, decodeCheckRequest, encodeCheckResponse),
  Watch: method('Watch', true, decodeCheckRequest, encodeCheckResponse),
  List: method('List', false, () => ({}), encodeListResponse),
};

export class Health {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<(s: ServingStatus) => void>>();

  constructor(initial: Readonly<Record<string, ServingStatus>> = {}) {
    for (const [name, status] of Object.entries(initial)) this.statuses.set(name, status);
  }

  setStatus(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  addToServer(server: Pick<grpc.Server, 'addService'>): void {
    server.addService(HEALTH_SERVICE, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const status = this.statuses.get(call.request.service);
        if (status) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${call.request.service}` });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
        const name = call.request.service;
        const watcher = (status: ServingStatus): void => void call.write({ status });
        const set = this.watchers.get(name) ?? new Set();
        set.add(watcher);
        this.watchers.set(name, set);
        call.on('cancelled', () => set.delete(watcher));
        call.write({ status: this.statuses.get(name) ?? 'SERVICE_UNKNOWN' });
      },
      List: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        if (this.statuses.size > LIST_LIMIT) callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
        else callback(null, { statuses: new Map(this.statuses) });
      },
    } as grpc.UntypedServiceImplementation);
  }
}
