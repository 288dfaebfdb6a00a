// Every way the coffer CLI fails, in one table: an exit status a script can
// test, and a sentence a person can act on. gRPC statuses from coffer-control
// are turned into these by `fromGrpc`, so no command prints a raw status or a
// stack trace (COFFER_DEBUG=1 prints the cause's stack for a bug report).
import { status as Status, type ServiceError } from '@grpc/grpc-js';

export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The operation ran and failed (an instance went to ERROR, a backup FAILED). */
  FAILED: 1,
  /** The command line or an input file is wrong; nothing was sent. */
  USAGE: 2,
  /** coffer-control refused the request as malformed (INVALID_ARGUMENT). */
  INVALID: 3,
  /** No token, or coffer-control refused it. */
  AUTH: 4,
  /** The instance, backup or task does not exist in the token's project. */
  NOT_FOUND: 5,
  /** The resource is not in a state that allows this (e.g. BUILD, a task running). */
  CONFLICT: 6,
  /** coffer-control (or the instance's agent) cannot be reached. */
  UNAVAILABLE: 7,
  /** coffer-control failed internally; its log says why. */
  INTERNAL: 8,
  /** Ctrl-C while watching; the operation itself continues in coffer-control. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export const usage = (message: string): CliError => new CliError(message, EXIT.USAGE);
export const failed = (message: string): CliError => new CliError(message, EXIT.FAILED);

/** What the failing call was about, for the sentence: where, and how to get a token. */
export interface ErrorContext {
  readonly endpoint: string;
  /** The CLI spoke plaintext (--plaintext): a TLS control drops it, which looks like an outage. */
  readonly plaintext?: boolean;
}

/** What Node's TLS says when the server's certificate does not verify (OpenSSL's verify errors, and a name mismatch). */
const CERT_FAILURE = /certificate|self[- ]signed|unable to verify|UNABLE_TO_|CERT_|Hostname\/IP does not match|ERR_TLS_/i;
/** What it says when the other end speaks no TLS (a control serving --plaintext-loopback). */
const NOT_TLS = /wrong version number|packet length too long|before secure TLS connection|ERR_SSL_/i;

const TOKEN_HINT =
  'create one with `coffer-control token create --data-dir DIR --project NAME` and pass it in COFFER_TOKEN or with --token-file FILE';

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/** The control's own error code (CONTROL_ERR_*), carried in trailing metadata. */
function controlCode(err: ServiceError): string {
  const v = err.metadata?.get('coffer-error-code')[0];
  return typeof v === 'string' ? v : '';
}

/** Turns a gRPC failure into a sentence and an exit status. */
export function fromGrpc(err: ServiceError, ctx: ErrorContext): CliError {
  const details = err.details || err.message;
  const make = (message: string, code: ExitCode) => new CliError(message, code, { cause: err });
  switch (err.code) {
    case Status.UNAUTHENTICATED:
      return make(`the token was refused by coffer-control at ${ctx.endpoint} (${details}): ${TOKEN_HINT}`, EXIT.AUTH);
    case Status.PERMISSION_DENIED:
      // The control's refusals of an operation (a replica of a replica) say why themselves.
      if (controlCode(err) === 'CONTROL_ERR_PERMISSION_DENIED') return make(`not allowed: ${details}`, EXIT.AUTH);
      return make(`the token's project may not do this: ${details}`, EXIT.AUTH);
    case Status.UNAVAILABLE:
      // The control answered but the instance's agent did not: a different fix.
      if (controlCode(err) === 'CONTROL_ERR_AGENT_UNREACHABLE') {
        return make(`${details}; check the instance with \`coffer instance show\` (is its agent reachable?)`, EXIT.UNAVAILABLE);
      }
      // The control answered but the backup store did not: retrying is the fix.
      if (controlCode(err) === 'CONTROL_ERR_STORAGE') return make(details, EXIT.UNAVAILABLE);
      if (!ctx.plaintext && CERT_FAILURE.test(details)) {
        const why = /Last error: (?:Error: )?([^.]*)/.exec(details)?.[1] ?? details;
        return make(
          `cannot verify coffer-control's TLS certificate at ${ctx.endpoint} (${why}): pass the CA that issued it with --ca-file FILE or COFFER_CA_FILE (coffer-control writes its own to DATA-DIR/api-ca.crt and prints the path at start)`,
          EXIT.UNAVAILABLE,
        );
      }
      if (!ctx.plaintext && NOT_TLS.test(details)) {
        return make(`coffer-control at ${ctx.endpoint} does not speak TLS: if it serves --plaintext-loopback, pass --plaintext (COFFER_PLAINTEXT=1)`, EXIT.UNAVAILABLE);
      }
      return make(
        `cannot reach coffer-control at ${ctx.endpoint}: is it running? Start it with \`coffer-control serve --data-dir DIR\` (or \`make up\`), or point --endpoint / COFFER_ENDPOINT at it${ctx.plaintext ? ' (it serves TLS unless started with --plaintext-loopback: then drop --plaintext and give --ca-file)' : ''}`,
        EXIT.UNAVAILABLE,
      );
    case Status.DEADLINE_EXCEEDED:
      return make(`coffer-control at ${ctx.endpoint} did not answer in time; it may be overloaded, or the instance's agent may be stuck: try again, or check the control's log`, EXIT.UNAVAILABLE);
    case Status.INVALID_ARGUMENT:
      return make(`the request was refused as invalid: ${details}`, EXIT.INVALID);
    case Status.NOT_FOUND:
      return make(`${details} (in the token's project)`, EXIT.NOT_FOUND);
    case Status.ALREADY_EXISTS:
    case Status.FAILED_PRECONDITION:
    case Status.ABORTED:
      return make(details, EXIT.CONFLICT);
    case Status.UNIMPLEMENTED:
      return make(`coffer-control at ${ctx.endpoint} does not offer this call (${details}): is it older than this coffer CLI?`, EXIT.INTERNAL);
    case Status.CANCELLED:
      return make('the call was cancelled', EXIT.FAILED);
    default:
      return make(`coffer-control failed: ${details} (see its log for the cause)`, EXIT.INTERNAL);
  }
}

/** Any thrown value as a CliError. */
export function toCliError(err: unknown, ctx: ErrorContext): CliError {
  if (err instanceof CliError) return err;
  if (isServiceError(err)) return fromGrpc(err, ctx);
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`unexpected error: ${message} (set COFFER_DEBUG=1 to see where)`, EXIT.INTERNAL, { cause: err });
}
