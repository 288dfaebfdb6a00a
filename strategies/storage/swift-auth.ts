// Swift authentication: tempauth / auth v1 (X-Auth-User + X-Auth-Key give
// X-Storage-Url + X-Auth-Token), or a storage URL and token handed in by the
// deployment (Keystone-issued, for example). The key and token stay in
// private fields and never enter a message or a log line.
import { Retryable, withRetries, type RetryPolicy } from './retry.js';
import { reason, storageFailed } from './errors.js';

export type SwiftAuthConfig =
  | { readonly kind: 'tempauth'; readonly authUrl: string; readonly user: string; readonly key: string }
  | { readonly kind: 'token'; readonly storageUrl: string; readonly token: string };

export interface SwiftSession {
  /** e.g. http://127.0.0.1:27180/v1/AUTH_test, without a trailing slash. */
  readonly storageUrl: string;
  readonly token: string;
}

export function checkSwiftAuth(config: SwiftAuthConfig): SwiftAuthConfig {
  if (typeof config !== 'object' || config === null) throw new TypeError('swift needs "auth": {"kind": "tempauth", ...} or {"kind": "token", ...}');
  const url = config.kind === 'tempauth' ? config.authUrl : config.kind === 'token' ? config.storageUrl : undefined;
  if (url === undefined) throw new TypeError('swift auth kind must be "tempauth" or "token"');
  if (!/^https?:\/\//.test(url)) throw new TypeError(`swift ${config.kind} URL must start with http:// or https://`);
  if (config.kind === 'tempauth' && (!config.user || !config.key)) throw new TypeError('swift tempauth needs a user and a key');
  if (config.kind === 'token' && !config.token) throw new TypeError('swift token auth needs a token');
  return Object.freeze({ ...config });
}

export class SwiftAuth {
  readonly #config: SwiftAuthConfig;
  #session: Promise<SwiftSession> | null = null;

  constructor(
    config: SwiftAuthConfig,
    private readonly fetchFn: typeof fetch,
    private readonly retry: RetryPolicy,
  ) {
    this.#config = checkSwiftAuth(config);
  }

  /** Whether a rejected token can be replaced by authenticating again. */
  get renewable(): boolean {
    return this.#config.kind === 'tempauth';
  }

  current(signal?: AbortSignal): Promise<SwiftSession> {
    if (!this.#session) {
      const c = this.#config;
      const session =
        c.kind === 'token'
          ? Promise.resolve({ storageUrl: c.storageUrl.replace(/\/+$/, ''), token: c.token })
          : this.tempauth(c, signal);
      // A failed login is not cached: the next request tries again.
      session.catch(() => {
        if (this.#session === session) this.#session = null;
      });
      this.#session = session;
    }
    return this.#session;
  }

  /** Drops `stale` (a token the server refused) unless a newer one replaced it already. */
  async renew(stale: SwiftSession, signal?: AbortSignal): Promise<SwiftSession> {
    const now = await this.current(signal).catch(() => null);
    if (now === stale) this.#session = null;
    return this.current(signal);
  }

  private tempauth(c: Extract<SwiftAuthConfig, { kind: 'tempauth' }>, signal?: AbortSignal): Promise<SwiftSession> {
    const what = `swift: authentication as ${c.user} at ${c.authUrl}`;
    return withRetries(this.retry, signal, async () => {
      let res: Response;
      try {
        res = await this.fetchFn(c.authUrl, { headers: { 'X-Auth-User': c.user, 'X-Auth-Key': c.key }, signal });
      } catch (err) {
        if (signal?.aborted) throw err;
        throw new Retryable(storageFailed(`${what} failed: ${reason(err)}`, err));
      }
      await res.arrayBuffer().catch(() => {});
      const storageUrl = res.headers.get('x-storage-url');
      const token = res.headers.get('x-auth-token');
      if (res.ok && storageUrl && token) return { storageUrl: storageUrl.replace(/\/+$/, ''), token };
      const failure = storageFailed(
        res.ok ? `${what} answered ${res.status} without a storage URL and token` : `${what} failed: ${res.status} ${res.statusText}`,
      );
      throw res.status >= 500 ? new Retryable(failure) : failure;
    });
  }
}
