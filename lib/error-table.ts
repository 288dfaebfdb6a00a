// One mechanism for a side's table of error codes (fastify's lib/errors.js
// shape): each code maps to one gRPC status, one HTTP status and the kind of
// failure it is. The agent and the control each keep their own table
// (agent/errors.ts, control/errors.ts) and build their error class and
// toServiceError from this file. The code travels in the trailing metadata
// (`coffer-error-code`) so callers need not parse messages.
import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { CofferError, type ErrorKind } from './coded-error.js';
import type { Logger } from './logger.js';

export const ERROR_CODE_METADATA_KEY = 'coffer-error-code';

export interface ErrorEntry {
  readonly grpc: GrpcStatus;
  readonly http: number;
  readonly kind: ErrorKind;
  readonly description: string;
}

export type ErrorTable<C extends string> = Readonly<Record<C, ErrorEntry>>;

/** An error of one side's table: a CofferError that also carries the side's code and its statuses. */
export class TableError<C extends string> extends CofferError {
  readonly grpcStatus: GrpcStatus;
  readonly httpStatus: number;

  constructor(
    table: ErrorTable<C>,
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(table[code].kind, message, options);
    this.grpcStatus = table[code].grpc;
    this.httpStatus = table[code].http;
  }
}

export interface ErrorTableSpec<C extends string> {
  readonly table: ErrorTable<C>;
  /** The side's own error class (whatever its constructor takes): its errors keep their code. */
  readonly errorClass: abstract new (...args: any) => TableError<C>;
  /**
   * The side's code for a CofferError thrown by shared code (strategies/,
   * lib/). A kind without a code here is reported as `internal`.
   */
  readonly codeOfKind: Readonly<Partial<Record<ErrorKind, C>>>;
  /** The code of an unexpected failure. */
  readonly internal: C;
  /** Who logs the cause of an unexpected failure ("see the agent log"). */
  readonly component: string;
}

export type ToServiceError = (err: unknown, log: Logger, method: string) => Partial<ServiceError>;

export interface ServiceErrors<C extends string> {
  /** The side's code of a thrown value, or undefined for an unexpected one. */
  codeOf(err: unknown): C | undefined;
  /**
   * Turns any thrown value into a gRPC error. The side's errors and the
   * CofferErrors it has a code for keep their message; anything else is
   * logged with its cause and reported with the internal code and a generic
   * message, so nothing internal (or secret) leaks to the caller.
   */
  toServiceError: ToServiceError;
}

export function serviceErrors<C extends string>(spec: ErrorTableSpec<C>): ServiceErrors<C> {
  const codeOf = (err: unknown): C | undefined => {
    if (err instanceof spec.errorClass) return err.code;
    if (err instanceof CofferError) return spec.codeOfKind[err.kind];
    return undefined;
  };
  const toServiceError: ToServiceError = (err, log, method) => {
    const metadata = new Metadata();
    const code = codeOf(err);
    if (code !== undefined) {
      const grpc = spec.table[code].grpc;
      const message = (err as Error).message;
      metadata.set(ERROR_CODE_METADATA_KEY, code);
      if (grpc === GrpcStatus.INTERNAL) log.error({ err, method }, 'request failed');
      else log.info({ code, method, msg: message }, 'request refused');
      return { code: grpc, details: message, metadata };
    }
    log.error({ err, method }, 'unexpected failure');
    metadata.set(ERROR_CODE_METADATA_KEY, spec.internal);
    return { code: spec.table[spec.internal].grpc, details: `internal error in ${method}; see the ${spec.component} log`, metadata };
  };
  return { codeOf, toServiceError };
}
