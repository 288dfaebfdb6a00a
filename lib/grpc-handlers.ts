// Adapters from async functions to grpc-js handlers, for both servers: every
// failure (a throw before the first await included) goes through the side's
// toServiceError (lib/error-table.ts), and a client that goes away becomes an
// aborted signal for the operation it started.
import type * as grpc from '@grpc/grpc-js';
import type { ToServiceError } from './error-table.js';
import type { Logger } from './logger.js';

export interface HandlerContext {
  readonly log: Logger;
  readonly toServiceError: ToServiceError;
}

export function unaryHandler<Req, Res>(
  ctx: HandlerContext,
  method: string,
  fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, call))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(ctx.toServiceError(err, ctx.log, method) as grpc.ServiceError),
      );
  };
}

export function serverStreamHandler<Req, Res>(
  ctx: HandlerContext,
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
    Promise.resolve()
      .then(() => fn(call.request, write, controller.signal, call))
      .then(
        () => {
          call.off('cancelled', onCancel);
          if (!call.cancelled) call.end();
        },
        (err: unknown) => {
          call.off('cancelled', onCancel);
          if (!call.cancelled) call.emit('error', ctx.toServiceError(err, ctx.log, method));
        },
      );
  };
}

/**
 * A bidirectional stream (the console): `fn` reads the call's messages and
 * writes its own; a client that goes away (cancelled, or its side of the
 * stream ended) aborts the signal. A failure ends the call with the side's
 * error; once `fn` resolves the call ends.
 */
export function duplexHandler<Req, Res>(
  ctx: HandlerContext,
  method: string,
  fn: (call: grpc.ServerDuplexStream<Req, Res>, write: (res: Res) => void, signal: AbortSignal) => Promise<void>,
): grpc.handleBidiStreamingCall<Req, Res> {
  return (call) => {
    const controller = new AbortController();
    const onCancel = (): void => controller.abort(new Error('the client went away'));
    call.on('cancelled', onCancel);
    const write = (res: Res): void => {
      if (!call.cancelled && !call.destroyed && call.writable) call.write(res);
    };
    Promise.resolve()
      .then(() => fn(call, write, controller.signal))
      .then(
        () => {
          call.off('cancelled', onCancel);
          if (!call.cancelled && !call.destroyed) call.end();
        },
        (err: unknown) => {
          call.off('cancelled', onCancel);
          if (!call.cancelled && !call.destroyed) call.emit('error', ctx.toServiceError(err, ctx.log, method));
        },
      );
  };
}

/**
 * The first message of a bidirectional stream. The call is left paused, so
 * that nothing after it is lost before the caller listens again (add the
 * 'data' listener, then resume()). Rejects with `onEnd()` when the stream
 * ends (or the signal aborts) first.
 */
export function firstMessage<Req>(call: grpc.ServerDuplexStream<Req, unknown>, signal: AbortSignal, onEnd: () => Error): Promise<Req> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      call.off('data', onData);
      call.off('end', onAbort);
      signal.removeEventListener('abort', onAbort);
    };
    const onData = (m: Req): void => {
      done();
      call.pause();
      resolve(m);
    };
    const onAbort = (): void => {
      done();
      reject(onEnd());
    };
    if (signal.aborted) return onAbort();
    call.on('data', onData);
    call.on('end', onAbort);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
