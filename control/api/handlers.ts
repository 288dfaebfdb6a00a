// The control's gRPC handlers: the shared adapters (lib/grpc-handlers.ts)
// with the control's error table (errors.ts), every call authenticated first
// (bearer token → project).
import type * as grpc from '@grpc/grpc-js';
import { serverStreamHandler, unaryHandler } from '../../lib/grpc-handlers.js';
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
  return unaryHandler<Req, Res>({ log: deps.log, toServiceError }, method, (req, call) => fn(req, scopeOf(deps.db, call.metadata)));
}

export function serverStream<Req, Res>(
  deps: ApiDeps,
  method: string,
  fn: (req: Req, scope: Scope, write: (res: Res) => void, signal: AbortSignal) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return serverStreamHandler<Req, Res>({ log: deps.log, toServiceError }, method, (req, write, signal, call) =>
    fn(req, scopeOf(deps.db, call.metadata), write, signal),
  );
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
