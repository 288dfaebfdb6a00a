// Every error the control reports, in one table: each code maps to one gRPC
// status and one HTTP status (for the REST bridge). The code travels in the
// trailing metadata (`coffer-error-code`), as on the agent (agent/errors.ts).
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.js';

interface ErrorKind {
  readonly grpc: GrpcStatus;
  readonly http: number;
  readonly description: string;
}

export const CONTROL_ERRORS = {
  CONTROL_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, description: 'a request field is malformed or not allowed' },
  CONTROL_ERR_UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401, description: 'no token, or a token that is not known' },
  CONTROL_ERR_PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403, description: 'the caller may not make this report or call' },
  CONTROL_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, description: 'no such resource in the caller\'s project' },
  CONTROL_ERR_CONFLICT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, description: 'the resource is not in a state that allows this' },
  CONTROL_ERR_UNAVAILABLE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, description: 'the datastore version or capability is not available' },
  CONTROL_ERR_AGENT_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, description: 'the instance\'s agent did not answer' },
  CONTROL_ERR_STORAGE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, description: 'the backup store (Swift, S3) failed or did not answer; retry' },
  CONTROL_ERR_AGENT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, description: 'the agent refused the request; the message says why' },
  CONTROL_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, description: 'an unexpected failure' },
} as const satisfies Record<string, ErrorKind>;

export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

export const ERROR_CODE_METADATA_KEY = 'coffer-error-code';

export class ControlError extends Error {
  readonly grpcStatus: GrpcStatus;
  readonly httpStatus: number;

  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ControlError';
    this.grpcStatus = CONTROL_ERRORS[code].grpc;
    this.httpStatus = CONTROL_ERRORS[code].http;
  }
}

export const invalid = (message: string): ControlError => new ControlError('CONTROL_ERR_INVALID_ARGUMENT', message);
export const notFound = (kind: string, id: string): ControlError => new ControlError('CONTROL_ERR_NOT_FOUND', `${kind} ${id} does not exist`);
export const conflict = (message: string): ControlError => new ControlError('CONTROL_ERR_CONFLICT', message);
export const storageFailed = (message: string, cause: unknown): ControlError => new ControlError('CONTROL_ERR_STORAGE', message, { cause });

/**
 * Turns any thrown value into a gRPC error. ControlErrors keep their message;
 * an agent's error keeps its status and message (it names what to fix);
 * anything else is logged with its cause and reported as INTERNAL with a
 * generic message, so nothing internal (or secret) leaks.
 */
export function toServiceError(err: unknown, log: Logger, method: string): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof ControlError) {
    metadata.set(ERROR_CODE_METADATA_KEY, err.code);
    if (err.grpcStatus === GrpcStatus.INTERNAL) log.error({ err, method }, 'request failed');
    else log.info({ code: err.code, method, msg: err.message }, 'request refused');
    return { code: err.grpcStatus, details: err.message, metadata };
  }
  log.error({ err, method }, 'unexpected failure');
  metadata.set(ERROR_CODE_METADATA_KEY, 'CONTROL_ERR_INTERNAL');
  return { code: GrpcStatus.INTERNAL, details: `internal error in ${method}; see the control log`, metadata };
}
