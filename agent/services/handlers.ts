// Adapters from async functions to grpc-js handlers: one place that maps
// errors to statuses (errors.ts) and turns a client that goes away into an
// aborted signal for the operation it started.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import { toServiceError } from '../errors.js';

export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err, log, method) as grpc.ServiceError),
    );
  };
}

export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req, write: (res: Res) => void, signal: AbortSignal, call: grpc.ServerWritableStream<Req, Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const controller = new AbortController();
    const onCancel = (): void => controller.abort(new Error('the client went away'));
    call.on('cancelled', onCancel);
    const write = (res: Res): void => {
      if (!call.cancelled && !call.destroyed) call.write(res);
    };
    fn(call.request, write, controller.signal, call).then(
      () => {
        call.off('cancelled', onCancel);
        if (!call.cancelled) call.end();
      },
      (err: unknown) => {
        call.off('cancelled', onCancel);
        if (!call.cancelled) call.emit('error', toServiceError(err, log, method));
      },
    );
  };
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
