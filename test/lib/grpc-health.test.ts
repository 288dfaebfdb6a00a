// The hand-coded grpc.health.v1.Health service against a client built from
// the standard health.proto (proto-loader): Check, Watch and List as a
// health-checking client sees them, and a request it cannot decode.
import t from 'tap';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Health, decodeCheckRequest } from '../../lib/grpc-health.js';

const require = createRequire(import.meta.url);
const protoDir = path.join(path.dirname(require.resolve('grpc-health-check')), '..', '..', 'proto');
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('health/v1/health.proto', { includeDirs: [protoDir], enums: String, defaults: true })) as unknown as {
  grpc: { health: { v1: { Health: new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, Function> } } };
};

const server = new grpc.Server();
const health = new Health({ '': 'NOT_SERVING', 'coffer.agent.v1.LifecycleService': 'SERVING' });
health.addToServer(server);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
);
t.teardown(() => server.forceShutdown());
const client = new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
t.teardown(() => client.close());

const check = (service: string): Promise<{ status: string }> =>
  new Promise((resolve, reject) => client.Check({ service }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res))));

t.test('Check answers each known service, NOT_FOUND for an unknown one, and follows setStatus', async (t) => {
  t.same(await check(''), { status: 'NOT_SERVING' });
  t.same(await check('coffer.agent.v1.LifecycleService'), { status: 'SERVING' });
  const err = (await check('no.such.Service').catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
  t.equal(err.code, grpc.status.NOT_FOUND);
  t.match(err.details, 'Health status unknown for service no.such.Service');
  health.setStatus('', 'SERVING');
  t.same(await check(''), { status: 'SERVING' });
});

t.test('Watch sends the current status, then each change; SERVICE_UNKNOWN for an unknown service', async (t) => {
  const call = client.Watch({ service: '' }) as grpc.ClientReadableStream<{ status: string }>;
  const seen: string[] = [];
  const two = new Promise<void>((resolve) =>
    call.on('data', (m: { status: string }) => {
      seen.push(m.status);
      if (seen.length === 1) health.setStatus('', 'NOT_SERVING');
      if (seen.length === 2) resolve();
    }),
  );
  call.on('error', () => {});
  await two;
  call.cancel();
  t.same(seen, ['SERVING', 'NOT_SERVING']);

  const unknown = client.Watch({ service: 'x.Y' }) as grpc.ClientReadableStream<{ status: string }>;
  unknown.on('error', () => {});
  const first = await new Promise<{ status: string }>((resolve) => unknown.once('data', resolve));
  unknown.cancel();
  t.same(first, { status: 'SERVICE_UNKNOWN' });
});

t.test('List gives every service with its status', async (t) => {
  const res = await new Promise<{ statuses: Record<string, { status: string }> }>((resolve, reject) =>
    client.List({}, (err: Error | null, r: { statuses: Record<string, { status: string }> }) => (err ? reject(err) : resolve(r))),
  );
  t.same(res.statuses, { '': { status: 'NOT_SERVING' }, 'coffer.agent.v1.LifecycleService': { status: 'SERVING' } });
});

t.test('a request cut short is refused with a clear error', async (t) => {
  t.throws(() => decodeCheckRequest(Buffer.from([0x0a, 0x05, 0x61])), /truncated field/);
  t.same(decodeCheckRequest(Buffer.from([0x10, 0x01, 0x0a, 0x01, 0x61])), { service: 'a' }, 'an unknown field before it is skipped');
});
