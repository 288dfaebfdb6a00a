// Every error the control reports, in one table: each code maps to one gRPC
// status, one HTTP status (for the REST bridge) and the kind of failure it
// is. The class and toServiceError are built by the mechanism both sides
// share (lib/error-table.ts); the code travels in the trailing metadata
// (`coffer-error-code`), as on the agent.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorKind } from '../lib/coded-error.js';
import { serviceErrors, TableError, type ErrorEntry } from '../lib/error-table.js';

export { ERROR_CODE_METADATA_KEY } from '../lib/error-table.js';

export const CONTROL_ERRORS = {
  CONTROL_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400, kind: 'INVALID_ARGUMENT', description: 'a request field is malformed or not allowed' },
  // Trove answers a configuration value it refuses with 422 Unprocessable Entity.
  CONTROL_ERR_INVALID_PARAMETER: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 422, kind: 'INVALID_ARGUMENT', description: 'a configuration parameter is unknown, of the wrong type or out of its range; the message names it and what it allows' },
  CONTROL_ERR_UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401, kind: 'UNAUTHENTICATED', description: 'no token, or a token that is not known' },
  CONTROL_ERR_PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403, kind: 'PERMISSION_DENIED', description: 'the caller may not make this report or call' },
  CONTROL_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404, kind: 'NOT_FOUND', description: 'no such resource in the caller\'s project' },
  CONTROL_ERR_CONFLICT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, kind: 'NOT_READY', description: 'the resource is not in a state that allows this' },
  CONTROL_ERR_UNAVAILABLE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, kind: 'UNIMPLEMENTED', description: 'the datastore version or capability is not available' },
  CONTROL_ERR_AGENT_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, kind: 'UNAVAILABLE', description: 'the instance\'s agent did not answer' },
  CONTROL_ERR_STORAGE: { grpc: GrpcStatus.UNAVAILABLE, http: 503, kind: 'STORAGE', description: 'the backup store (Swift, S3) failed or did not answer; retry' },
  CONTROL_ERR_BUSY: { grpc: GrpcStatus.ABORTED, http: 409, kind: 'BUSY', description: 'the instance\'s agent is busy with another operation; retry' },
  CONTROL_ERR_AGENT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409, kind: 'NOT_READY', description: 'the agent refused the request; the message says why' },
  CONTROL_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500, kind: 'INTERNAL', description: 'an unexpected failure' },
} as const satisfies Record<string, ErrorEntry>;

export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

export class ControlError extends TableError<ControlErrorCode> {
  constructor(code: ControlErrorCode, message: string, options?: { cause?: unknown }) {
    super(CONTROL_ERRORS, code, message, options);
    this.name = 'ControlError';
  }
}

/**
 * The control's code for a failure of shared code (strategies/, lib/). None
 * yet: the control catches the store's errors where it calls the store and
 * says what it was doing (service/backups.ts), so a CofferError that reaches
 * the handler is unexpected and reported as CONTROL_ERR_INTERNAL.
 */
export const CONTROL_CODE_OF_KIND: Readonly<Partial<Record<ErrorKind, ControlErrorCode>>> = {};

export const CONTROL_ERROR_SPEC = {
  table: CONTROL_ERRORS,
  errorClass: ControlError,
  codeOfKind: CONTROL_CODE_OF_KIND,
  internal: 'CONTROL_ERR_INTERNAL',
  component: 'control',
} as const;

/**
 * Turns any thrown value into a gRPC error: ControlErrors keep their message
 * (an agent's refusal is relayed as one, agent-client.ts); anything else is
 * logged with its cause and reported as INTERNAL with a generic message, so
 * nothing internal (or secret) leaks.
 */
export const { toServiceError } = serviceErrors<ControlErrorCode>(CONTROL_ERROR_SPEC);

export const invalid = (message: string): ControlError => new ControlError('CONTROL_ERR_INVALID_ARGUMENT', message);
export const notFound = (kind: string, id: string): ControlError => new ControlError('CONTROL_ERR_NOT_FOUND', `${kind} ${id} does not exist`);
export const conflict = (message: string): ControlError => new ControlError('CONTROL_ERR_CONFLICT', message);
export const storageFailed = (message: string, cause: unknown): ControlError => new ControlError('CONTROL_ERR_STORAGE', message, { cause });
