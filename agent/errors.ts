// Every error the agent reports, in one table: each code maps to one gRPC
// status and one HTTP status. The code travels in the trailing metadata
// (`coffer-error-code`) so callers need not parse messages.
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../lib/logger.js';

interface ErrorKind {
  readonly grpc: GrpcStatus;
  readonly http: number;
  readonly description: string;
}

export const AGENT_ERRORS = {
  AGENT_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, description: 'a request field is malformed or not allowed' },
  AGENT_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, description: 'the named database, user or object does not exist' },
  AGENT_ERR_ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409, description: 'the named database or user exists already' },
  AGENT_ERR_ALREADY_PREPARED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, description: 'Prepare was already run on this instance' },
  AGENT_ERR_NOT_READY: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, description: 'the datastore is not in a state that allows this' },
  AGENT_ERR_BUSY: { grpc: GrpcStatus.ABORTED, http: 409, description: 'another operation is running' },
  AGENT_ERR_UNIMPLEMENTED: { grpc: GrpcStatus.UNIMPLEMENTED, http: 501, description: 'the datastore or agent does not have this capability' },
  AGENT_ERR_CANCELLED: { grpc: GrpcStatus.CANCELLED, http: 499, description: 'the operation was cancelled' },
  AGENT_ERR_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504, description: 'the datastore did not answer in time' },
  AGENT_ERR_DATASTORE: { grpc: GrpcStatus.INTERNAL, http: 500, description: 'the datastore or one of its tools failed' },
  AGENT_ERR_STORAGE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, description: 'the object storage failed' },
  AGENT_ERR_INTEGRITY: { grpc: GrpcStatus.DATA_LOSS, http: 422, description: 'stored data failed its integrity check' },
  AGENT_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, description: 'an unexpected failure' },
} as const satisfies Record<string, ErrorKind>;

export type AgentErrorCode = keyof typeof AGENT_ERRORS;

export const ERROR_CODE_METADATA_KEY = 'coffer-error-code';

export class AgentError extends Error {
  readonly grpcStatus: GrpcStatus;
  readonly httpStatus: number;

  constructor(
    readonly code: AgentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
    this.grpcStatus = AGENT_ERRORS[code].grpc;
    this.httpStatus = AGENT_ERRORS[code].http;
  }
}

export const invalid = (message: string): AgentError => new AgentError('AGENT_ERR_INVALID_ARGUMENT', message);
export const notFound = (message: string): AgentError => new AgentError('AGENT_ERR_NOT_FOUND', message);
export const unimplemented = (capability: string, datastore: string): AgentError =>
  new AgentError('AGENT_ERR_UNIMPLEMENTED', `${capability} is not implemented for datastore ${datastore}`);

/**
 * Turns any thrown value into a gRPC error. AgentErrors keep their message;
 * anything else is logged with its cause and reported as INTERNAL with a
 * generic message, so nothing internal (or secret) leaks to the caller.
 */
export function toServiceError(err: unknown, log: Logger, method: string): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof AgentError) {
    metadata.set(ERROR_CODE_METADATA_KEY, err.code);
    if (err.grpcStatus === GrpcStatus.INTERNAL) log.error({ err, method }, 'request failed');
    else log.info({ code: err.code, method, msg: err.message }, 'request refused');
    return { code: err.grpcStatus, details: err.message, metadata };
  }
  log.error({ err, method }, 'unexpected failure');
  metadata.set(ERROR_CODE_METADATA_KEY, 'AGENT_ERR_INTERNAL');
  return { code: GrpcStatus.INTERNAL, details: `internal error in ${method}; see the agent log`, metadata };
}
