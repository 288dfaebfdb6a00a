// The handler adapters both servers use, on a real grpc-js server and client:
// a failure (a throw before the first await included) reaches the caller with
// the side's status, message and coffer-error-code; an unexpected one leaks
// nothing; a client that goes away aborts the stream's signal.
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import { CofferError } from '../../lib/coded-error.js';
import { serviceErrors, TableError, type ErrorTable } from '../../lib/error-table.js';
import { serverStreamHandler, unaryHandler } from '../../lib/grpc-handlers.js';
import { createLogger } from '../../lib/logger.js';

const TABLE = {
  T_ERR_NOT_FOUND: { grpc: grpc.status.NOT_FOUND, http: 404, kind: 'NOT_FOUND', description: 'no such thing' },
  T_ERR_INTEGRITY: { grpc: grpc.status.DATA_LOSS, http: 422, kind: 'INTEGRITY', description: 'bad bytes' },
  T_ERR_INTERNAL: { grpc: grpc.status.INTERNAL, http: 500, kind: 'INTERNAL', description: 'unexpected' },
} as const satisfies ErrorTable<string>;
type Code = keyof typeof TABLE;
class TError extends TableError<Code> {
  constructor(code: Code, message: string) {
    super(TABLE, code, message);
  }
}
const { toServiceError } = serviceErrors<Code>({ table: TABLE, errorClass: TError, codeOfKind: { INTEGRITY: 'T_ERR_INTEGRITY' }, internal: 'T_ERR_INTERNAL', component: 'test' });

const json = {
  requestSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as { what: string },
  responseSerialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as { n: number },
};
const definition: grpc.ServiceDefinition = {
  call: { path: '/t.T/Call', requestStream: false, responseStream: false, ...json },
  watch: { path: '/t.T/Watch', requestStream: false, responseStream: true, ...json },
};

async function serve(t: Test) {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
  const ctx = { log, toServiceError };
  let streamSignal: AbortSignal | undefined;
  let streamStarted!: () => void;
  const started = new Promise<void>((r) => (streamStarted = r));
  const fail = (what: string): never => {
    if (what === 'own') throw new TError('T_ERR_NOT_FOUND', 'thing 7 does not exist');
    if (what === 'shared') throw new CofferError('INTEGRITY', 'frame 3 failed authentication');
    throw new Error('password=hunter2 leaked into an exception');
  };
  const server = new grpc.Server();
  server.addService(definition, {
    call: unaryHandler<{ what: string }, { n: number }>(ctx, 'Call', (req) => (req.what === 'ok' ? Promise.resolve({ n: 1 }) : fail(req.what))),
    watch: serverStreamHandler<{ what: string }, { n: number }>(ctx, 'Watch', async (req, write, signal) => {
      if (req.what !== 'hang') fail(req.what);
      streamSignal = signal;
      write({ n: 1 });
      streamStarted();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const Client = grpc.makeGenericClientConstructor(definition, 'T');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  t.teardown(() => {
    client.close();
    server.forceShutdown();
  });
  return { client, lines, started, signal: () => streamSignal };
}

const unaryError = (client: grpc.Client & Record<string, Function>, what: string) =>
  new Promise<grpc.ServiceError>((resolve, reject) =>
    client.call({ what }, (err: grpc.ServiceError | null) => (err ? resolve(err) : reject(new Error('expected an error')))),
  );
const streamError = (client: grpc.Client & Record<string, Function>, what: string) =>
  new Promise<grpc.ServiceError>((resolve) => {
    const s = client.watch({ what }) as grpc.ClientReadableStream<unknown>;
    s.on('data', () => undefined);
    s.on('error', resolve);
  });
const summary = (e: grpc.ServiceError) => ({ code: e.code, details: e.details, errorCode: e.metadata.get('coffer-error-code')[0] });

t.test('unary and stream failures reach the caller through the side table', async (t) => {
  const { client, lines } = await serve(t);
  const ok = await new Promise<{ n: number }>((resolve, reject) => client.call({ what: 'ok' }, (err: Error | null, res: { n: number }) => (err ? reject(err) : resolve(res))));
  t.same(ok, { n: 1 });
  for (const [name, get] of [['unary', unaryError], ['stream', streamError]] as const) {
    t.same(summary(await get(client, 'own')), { code: grpc.status.NOT_FOUND, details: 'thing 7 does not exist', errorCode: 'T_ERR_NOT_FOUND' }, `${name}: the side's own error`);
    t.same(summary(await get(client, 'shared')), { code: grpc.status.DATA_LOSS, details: 'frame 3 failed authentication', errorCode: 'T_ERR_INTEGRITY' }, `${name}: a shared kind`);
    const unexpected = summary(await get(client, 'boom'));
    t.same(unexpected, { code: grpc.status.INTERNAL, details: `internal error in ${name === 'unary' ? 'Call' : 'Watch'}; see the test log`, errorCode: 'T_ERR_INTERNAL' }, `${name}: unexpected, generic message`);
  }
  t.ok(lines.some((l) => /unexpected failure/.test(l)), 'the unexpected failure is logged with its cause on the server');
  t.ok(lines.some((l) => /request refused/.test(l) && /T_ERR_NOT_FOUND/.test(l)), 'a refusal is logged with its code');
});

t.test('a client that goes away aborts the stream\'s signal', async (t) => {
  const { client, started, signal } = await serve(t);
  const s = client.watch({ what: 'hang' }) as grpc.ClientReadableStream<unknown>;
  s.on('error', () => undefined);
  s.on('data', () => undefined);
  await started;
  s.cancel();
  const deadline = Date.now() + 60_000;
  while (!signal()?.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(signal()?.aborted, true, 'the operation saw the client leave');
  t.match(String((signal()?.reason as Error)?.message), /client went away/);
});
