// Every error the agent reports, in one table: each code maps to one gRPC
// status, one HTTP status and the kind of failure it is. The class and
// toServiceError are built by the mechanism both sides share
// (lib/error-table.ts); the code travels in the trailing metadata
// (`coffer-error-code`) so callers need not parse messages.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorKind } from '../lib/coded-error.js';
import { serviceErrors, TableError, type ErrorEntry } from '../lib/error-table.js';

export { ERROR_CODE_METADATA_KEY } from '../lib/error-table.js';

export const AGENT_ERRORS = {
  AGENT_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, kind: 'INVALID_ARGUMENT', description: 'a request field is malformed or not allowed' },
  AGENT_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, kind: 'NOT_FOUND', description: 'the named database, user or object does not exist' },
  AGENT_ERR_ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409, kind: 'ALREADY_EXISTS', description: 'the named database or user exists already' },
  AGENT_ERR_ALREADY_PREPARED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, kind: 'NOT_READY', description: 'Prepare was already run on this instance' },
  AGENT_ERR_NOT_READY: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, kind: 'NOT_READY', description: 'the datastore is not in a state that allows this' },
  AGENT_ERR_BUSY: { grpc: GrpcStatus.ABORTED, http: 409, kind: 'BUSY', description: 'another operation is running' },
  AGENT_ERR_UNIMPLEMENTED: { grpc: GrpcStatus.UNIMPLEMENTED, http: 501, kind: 'UNIMPLEMENTED', description: 'the datastore or agent does not have this capability' },
  AGENT_ERR_CANCELLED: { grpc: GrpcStatus.CANCELLED, http: 499, kind: 'CANCELLED', description: 'the operation was cancelled' },
  AGENT_ERR_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504, kind: 'TIMEOUT', description: 'the datastore did not answer in time' },
  AGENT_ERR_DATASTORE: { grpc: GrpcStatus.INTERNAL, http: 500, kind: 'DATASTORE', description: 'the datastore or one of its tools failed' },
  AGENT_ERR_STORAGE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, kind: 'STORAGE', description: 'the object storage failed' },
  AGENT_ERR_INTEGRITY: { grpc: GrpcStatus.DATA_LOSS, http: 422, kind: 'INTEGRITY', description: 'stored data failed its integrity check' },
  AGENT_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, kind: 'INTERNAL', description: 'an unexpected failure' },
} as const satisfies Record<string, ErrorEntry>;

export type AgentErrorCode = keyof typeof AGENT_ERRORS;

export class AgentError extends TableError<AgentErrorCode> {
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(AGENT_ERRORS, code, message, options);
    this.name = 'AgentError';
  }
}

/**
 * The agent's code for a failure of shared code (strategies/, lib/), which
 * reports a kind rather than an agent code. A kind the agent has no code for
 * is reported as AGENT_ERR_INTERNAL.
 */
export const AGENT_CODE_OF_KIND: Readonly<Partial<Record<ErrorKind, AgentErrorCode>>> = {
  INVALID_ARGUMENT: 'AGENT_ERR_INVALID_ARGUMENT',
  NOT_FOUND: 'AGENT_ERR_NOT_FOUND',
  ALREADY_EXISTS: 'AGENT_ERR_ALREADY_EXISTS',
  NOT_READY: 'AGENT_ERR_NOT_READY',
  BUSY: 'AGENT_ERR_BUSY',
  UNIMPLEMENTED: 'AGENT_ERR_UNIMPLEMENTED',
  CANCELLED: 'AGENT_ERR_CANCELLED',
  TIMEOUT: 'AGENT_ERR_TIMEOUT',
  DATASTORE: 'AGENT_ERR_DATASTORE',
  STORAGE: 'AGENT_ERR_STORAGE',
  INTEGRITY: 'AGENT_ERR_INTEGRITY',
  INTERNAL: 'AGENT_ERR_INTERNAL',
};

export const AGENT_ERROR_SPEC = {
  table: AGENT_ERRORS,
  errorClass: AgentError,
  codeOfKind: AGENT_CODE_OF_KIND,
  internal: 'AGENT_ERR_INTERNAL',
  component: 'agent',
} as const;

/**
 * Turns any thrown value into a gRPC error: AgentErrors and the CofferErrors
 * of shared code keep their message; anything else is logged with its cause
 * and reported as INTERNAL with a generic message.
 */
export const { toServiceError } = serviceErrors<AgentErrorCode>(AGENT_ERROR_SPEC);

export const invalid = (message: string): AgentError => new AgentError('AGENT_ERR_INVALID_ARGUMENT', message);
export const notFound = (message: string): AgentError => new AgentError('AGENT_ERR_NOT_FOUND', message);
export const unimplemented = (capability: string, datastore: string): AgentError =>
  new AgentError('AGENT_ERR_UNIMPLEMENTED', `${capability} is not implemented for datastore ${datastore}`);
