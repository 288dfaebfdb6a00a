// The agent's gRPC handlers: the shared adapters (lib/grpc-handlers.ts) with
// the agent's error table (errors.ts).
import type * as grpc from '@grpc/grpc-js';
import { serverStreamHandler, unaryHandler } from '../../lib/grpc-handlers.js';
import type { Logger } from '../../lib/logger.js';
import { toServiceError } from '../errors.js';

export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return unaryHandler({ log, toServiceError }, method, fn);
}

export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, write: (res: Res) => void, signal: AbortSignal, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return serverStreamHandler({ log, toServiceError }, method, fn);
}

/** Every method of a service answering UNIMPLEMENTED, naming the capability. */
export function unimplementedService(
  definition: grpc.ServiceDefinition,
  capability: string,
  datastore: string,
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(definition)) {
    const rpc = def.path.split('/').pop()!;
    const details = `${rpc} (${capability}) is not implemented yet by this agent for datastore ${datastore}`;
    impl[name] = ((call: { emit?: (e: string, v: unknown) => void }, callback?: (err: unknown) => void) => {
      const err = { code: 12 /* UNIMPLEMENTED */, details };
      if (typeof callback === 'function') callback(err);
      else call.emit?.('error', err);
    }) as grpc.UntypedHandleCall;
  }
  return impl;
}
