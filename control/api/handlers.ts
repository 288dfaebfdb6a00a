// Adapters from async functions to grpc-js handlers: every call is
// authenticated first (bearer token → project), and every error goes
// through the one error table (errors.ts).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import type { Db } from '../db/database.js';
import { ControlError, toServiceError } from '../errors.js';
import type { Scope } from '../store/scope.js';
import { authenticate } from '../store/tokens.js';

export interface ApiDeps {
  readonly db: Db;
  readonly log: Logger;
}

export function scopeOf(db: Db, metadata: grpc.Metadata): Scope {
  const header = metadata.get('authorization')[0];
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new ControlError('CONTROL_ERR_UNAUTHENTICATED', 'no token: send metadata "authorization: Bearer <token>" (create one with `coffer-control token create`)');
  const scope = authenticate(db, m[1]!);
  if (!scope) throw new ControlError('CONTROL_ERR_UNAUTHENTICATED', 'the token is not known');
  return scope;
}

export function unary<Req, Res>(
  deps: ApiDeps,
  method: string,
  fn: (req: Req, scope: Scope) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call.request, scopeOf(deps.db, call.metadata)))
      .then(
        (res) => callback(null, res),
        (err: unknown) => callback(toServiceError(err, deps.log, method) as grpc.ServiceError),
      );
  };
}

export function serverStream<Req, Res>(
  deps: ApiDeps,
  method: string,
  fn: (req: Req, scope: Scope, write: (res: Res) => void, signal: AbortSignal) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort(new Error('the client went away')));
    const write = (res: Res): void => {
      if (!call.cancelled && !call.destroyed) call.write(res);
    };
    Promise.resolve()
      .then(() => fn(call.request, scopeOf(deps.db, call.metadata), write, controller.signal))
      .then(
        () => {
          if (!call.cancelled) call.end();
        },
        (err: unknown) => {
          if (!call.cancelled) call.emit('error', toServiceError(err, deps.log, method));
        },
      );
  };
}

/** Page tokens are the last id of the previous page, opaque to callers. */
export function decodePageToken(token: string): string {
  return token ? Buffer.from(token, 'base64url').toString('utf8') : '';
}

export function encodePageToken(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function pageSize(n: number): number {
  if (n < 0) throw new ControlError('CONTROL_ERR_INVALID_ARGUMENT', `page_size must not be negative, got ${n}`);
  return Math.min(n || 50, 1000);
}
