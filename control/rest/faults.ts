// Trove's fault bodies: `{"<name>": {"code": <http status>, "message": ...}}`,
// the name chosen by the HTTP status as Trove's wsgi layer does. Every error
// a REST request can meet ends here: the control's typed errors (their HTTP
// status comes from the one table in control/errors.ts), fastify's own
// (validation, malformed JSON, oversized body, bad URL), and anything else,
// which is logged with its cause and answered as a generic instanceFault.
import type { FastifyError } from 'fastify';
import type { Logger } from '../../lib/logger.js';
import { ControlError } from '../errors.js';

const FAULT_NAMES: Readonly<Record<number, string>> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  422: 'unprocessableEntity',
  500: 'instanceFault',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export interface Fault {
  readonly status: number;
  readonly body: Record<string, { code: number; message: string; coffer_error?: string }>;
}

export function fault(status: number, message: string, code?: string): Fault {
  const name = FAULT_NAMES[status] ?? (status >= 500 ? 'instanceFault' : 'badRequest');
  return { status, body: { [name]: { code: status, message, ...(code ? { coffer_error: code } : {}) } } };
}

/** A client error raised by the REST layer itself (bad path, unsupported field). */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

export const badRequest = (message: string): RestError => new RestError(400, message);

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "body", "/instance/volume/size" → "instance.volume.size" (a name the caller knows from the API reference). */
function fieldName(context: string, instancePath: string): string {
  const parts = instancePath.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const path = parts.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
  return context === 'body' ? path || 'the request body' : `${context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : context} ${path}`.trim();
}

/** One sentence naming the field, from fastify's ajv validation errors. */
export function validationMessage(context: string, errors: readonly AjvError[]): string {
  const e = errors[0];
  if (!e) return 'the request is not valid';
  const field = fieldName(context, e.instancePath);
  const p = e.params;
  switch (e.keyword) {
    case 'required':
      return `${field === 'the request body' ? '' : `${field}.`}${String(p.missingProperty)} is required`.replace(/^\./, '');
    case 'additionalProperties':
      return `${field} has an unknown field "${String(p.additionalProperty)}"`;
    case 'type':
      return `${field} must be of type ${String(p.type)}`;
    case 'maxLength':
    case 'minLength':
    case 'maximum':
    case 'minimum':
    case 'maxItems':
    case 'minItems':
    case 'pattern':
    case 'enum':
    case 'minProperties':
    case 'maxProperties':
      return `${field} ${e.message ?? 'is not valid'}`;
    default:
      return `${field} ${e.message ?? 'is not valid'}`;
  }
}

/** Maps any thrown value to a fault, logging what is not the caller's fault. */
export function toFault(err: unknown, log: Logger, route: string): Fault {
  if (err instanceof ControlError) {
    if (err.httpStatus >= 500) log.error({ err, route }, 'request failed');
    else log.info({ code: err.code, route, msg: err.message }, 'request refused');
    return fault(err.httpStatus, err.message, err.code);
  }
  if (err instanceof RestError) return fault(err.status, err.message);
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (fe.validation) return fault(400, validationMessage(fe.validationContext ?? 'body', fe.validation));
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return fault(400, `the request body is not valid JSON: ${fe.message ?? ''}`.trim());
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // The issue asks for 400 on an oversized body (Trove's own 413 is its rate limit).
      return fault(400, 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return fault(415, 'send the request body as application/json');
    case 'FST_ERR_BAD_URL':
      return fault(400, 'the URL is not valid (bad percent-encoding?)');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fault(400, 'the Content-Length does not match the body');
  }
  // A SyntaxError from the JSON parser carries statusCode 400 too.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return fault(fe.statusCode === 413 ? 400 : fe.statusCode, fe.message ?? 'bad request');
  log.error({ err, route }, 'unexpected failure');
  return fault(500, `internal error in ${route}; see the control log`, 'CONTROL_ERR_INTERNAL');
}
