// One Swift request: adds the token, renews it once if the server refuses it,
// retries what lib/retryable.ts says may pass (5xx, 408, 429, no answer) with backoff, and turns any
// other failure into an error naming the operation and the server's answer.
import type { Logger } from '../../lib/logger.js';
import { isRetryableHttpStatus } from '../../lib/retryable.js';
import type { SwiftAuth } from './swift-auth.js';
import { Retryable, withRetries, type RetryPolicy } from './retry.js';
import { reason, storageFailed } from './errors.js';

export interface SwiftRequest {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE';
  /** URL-encoded path below the storage URL, starting with "/". */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** For messages: "PUT segment 3 of backups/x". */
  readonly what: string;
  /** Statuses the caller handles itself (besides 2xx), e.g. 404. */
  readonly accept?: readonly number[];
  readonly signal?: AbortSignal;
}

const MAX_ERROR_TEXT = 300;

/** Encodes "a/b c" as "a/b%20c": each segment encoded, slashes kept. */
export const encodePath = (...parts: string[]): string =>
  '/' + parts.map((p) => p.split('/').map(encodeURIComponent).join('/')).join('/');

export class SwiftHttp {
  constructor(
    private readonly auth: SwiftAuth,
    private readonly fetchFn: typeof fetch,
    private readonly retry: RetryPolicy,
    private readonly log?: Logger,
  ) {}

  send(req: SwiftRequest): Promise<Response> {
    return withRetries(this.retry, req.signal, () => this.once(req), (failure, attempt, delayMs) =>
      // The message holds method, path, status and server text only: no token.
      this.log?.warn({ attempt, delayMs, error: failure.message }, `swift: ${req.what}: retrying`),
    );
  }

  private async once(req: SwiftRequest): Promise<Response> {
    let session = await this.auth.current(req.signal);
    for (let renewed = false; ; renewed = true) {
      const url = new URL(session.storageUrl + req.path);
      for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
      let res: Response;
      try {
        // `duplex` is in undici's RequestInit but not yet in the DOM type Node's global fetch uses.
        res = await this.fetchFn(url, <RequestInit>{
          method: req.method,
          headers: { ...req.headers, ...lengthOf(req.body), 'X-Auth-Token': session.token },
          ...bodyOf(req.body),
          signal: req.signal,
        });
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason ?? err;
        throw new Retryable(storageFailed(`swift: ${req.what} failed: ${reason(err)}`, err));
      }
      if (res.ok || req.accept?.includes(res.status)) return res;
      const text = await errorText(res);
      if (res.status === 401 && this.auth.renewable && !renewed) {
        session = await this.auth.renew(session, req.signal);
        continue;
      }
      const failure = storageFailed(`swift: ${req.what} failed: ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`);
      throw isRetryableHttpStatus(res.status) ? new Retryable(failure) : failure;
    }
  }
}

/**
 * Byte bodies are sent as a stream over the caller's buffer (duplex 'half',
 * as fetch requires for stream bodies) rather than copied into a Blob: a
 * segment is already the largest allocation of an upload and is not doubled.
 * A fresh stream per attempt lets a retry resend the same bytes.
 */
function bodyOf(body: Uint8Array | string | undefined): { body?: BodyInit; duplex?: 'half' } {
  if (body === undefined || typeof body === 'string') return { body };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (body.length > 0) controller.enqueue(body);
      controller.close();
    },
  });
  return { body: stream, duplex: 'half' };
}

/** Swift needs a length (or chunked encoding) on PUT; a known length lets it refuse short bodies. */
const lengthOf = (body: Uint8Array | string | undefined): Record<string, string> =>
  body === undefined ? {} : { 'Content-Length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length) };

/** The server's error text, tags stripped and shortened, for messages. */
async function errorText(res: Response): Promise<string> {
  const body = await res.text().catch(() => '');
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > MAX_ERROR_TEXT ? text.slice(0, MAX_ERROR_TEXT) + '…' : text;
}

/** Reads and drops a body we do not need, so the connection can be reused. */
export async function discard(res: Response): Promise<void> {
  await res.arrayBuffer().catch(() => {});
}
