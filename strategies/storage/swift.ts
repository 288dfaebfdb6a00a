// OpenStack Swift storage: one container per deployment, objects named by
// the key save() is given (it already starts with the instance's prefix),
// large objects as Static Large Objects whose segments live in a second
// container. The location recorded with a backup is "<container>/<object>".
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Logger } from '../../lib/logger.js';
import type { AbandonedOptions, ObjectSink, ObjectStorage, SaveOptions, StoredObject } from './storage.js';
import { checkKey, checkPrefix, splitLocation } from './keys.js';
import { checkMetadata, metadataFromHeaders, type Metadata } from './metadata.js';
import { createObjectSink } from './object-sink.js';
import { checkRetryPolicy, DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { SwiftAuth, type SwiftAuthConfig } from './swift-auth.js';
import { discard, encodePath, SwiftHttp } from './swift-http.js';
import { parseSegmentName, SwiftSloUpload } from './swift-upload.js';
import { objectMissing, storageFailed } from './errors.js';

export type { SwiftAuthConfig } from './swift-auth.js';

export interface SwiftStorageOptions {
  readonly auth: SwiftAuthConfig;
  /** The deployment's backup container; created on first save. */
  readonly container: string;
  /** Where SLO segments go; default "<container>_segments". */
  readonly segmentContainer?: string;
  /** Bytes per SLO segment; default 64 MiB. */
  readonly segmentSize?: number;
  /** Segments PUT at once; one upload holds concurrency x segmentSize bytes. Default 4. */
  readonly concurrency?: number;
  /** Swift's max_manifest_segments; default 1000. */
  readonly maxSegments?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Injected for tests (fault injection) and proxies; default: global fetch. */
  readonly fetch?: typeof fetch;
  /** Retries are logged here (warn), if given. */
  readonly logger?: Logger;
}

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
export const DEFAULT_SWIFT_CONCURRENCY = 4;
/** Swift's default max_file_size: no segment may be larger. */
const MAX_SEGMENT_SIZE = 5 * 1024 * 1024 * 1024;

interface CompiledSwiftOptions {
  readonly container: string;
  readonly segmentContainer: string;
  readonly segmentSize: number;
  readonly concurrency: number;
  readonly maxSegments: number;
  readonly retry: RetryPolicy;
}

function compile(opts: SwiftStorageOptions): CompiledSwiftOptions {
  const container = opts.container;
  const segmentContainer = opts.segmentContainer ?? `${container}_segments`;
  for (const [what, name] of [['container', container], ['segment container', segmentContainer]] as const) {
    if (!name || name.includes('/') || name.length > 256) throw new TypeError(`swift ${what} must be a non-empty name without "/", got ${JSON.stringify(name)}`);
  }
  if (segmentContainer === container) throw new TypeError('swift segment container must differ from the container');
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isSafeInteger(segmentSize) || segmentSize < 1 || segmentSize > MAX_SEGMENT_SIZE) {
    throw new TypeError(`swift segment size must be an integer from 1 to ${MAX_SEGMENT_SIZE} bytes, got ${segmentSize}`);
  }
  const concurrency = opts.concurrency ?? DEFAULT_SWIFT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new TypeError(`swift concurrency must be an integer from 1 to 64, got ${concurrency}`);
  }
  const maxSegments = opts.maxSegments ?? 1000;
  if (!Number.isSafeInteger(maxSegments) || maxSegments < 1) throw new TypeError(`swift maxSegments must be a positive integer, got ${maxSegments}`);
  const retry = checkRetryPolicy({ ...DEFAULT_RETRY, ...opts.retry });
  return Object.freeze({ container, segmentContainer, segmentSize, concurrency, maxSegments, retry });
}

export class SwiftStorage implements ObjectStorage {
  readonly name = 'swift';
  private readonly opts: CompiledSwiftOptions;
  private readonly http: SwiftHttp;
  private readonly log: SwiftStorageOptions['logger'];
  private containersReady: Promise<void> | null = null;

  constructor(options: SwiftStorageOptions) {
    this.opts = compile(options);
    const fetchFn = options.fetch ?? globalThis.fetch;
    this.http = new SwiftHttp(new SwiftAuth(options.auth, fetchFn, this.opts.retry), fetchFn, this.opts.retry, options.logger);
    this.log = options.logger;
  }

  save(key: string, opts: SaveOptions): ObjectSink {
    checkKey(key, 'swift object name');
    const metadata = checkMetadata(opts.metadata);
    const upload = new SwiftSloUpload(
      this.http,
      { ...this.opts, name: key, metadata },
      (signal) => this.ensureContainers(signal),
      (reason) => this.log?.warn({ object: `${this.opts.container}/${key}` }, `swift: segment MD5s computed on the main thread from now on: ${reason}`),
    );
    return createObjectSink(upload, { describe: `swift object ${this.opts.container}/${key}`, signal: opts.signal });
  }

  async open(location: string, opts: { signal?: AbortSignal } = {}): Promise<StoredObject> {
    const { container, key } = splitLocation(location, 'swift');
    const res = await this.http.send({
      method: 'GET',
      path: encodePath(container, key),
      what: `GET ${location}`,
      accept: [404],
      signal: opts.signal,
    });
    if (res.status === 404) {
      await discard(res);
      throw objectMissing(`swift object ${location} does not exist`);
    }
    if (!res.body) throw storageFailed(`swift: GET ${location} returned no body`);
    // Streamed: an SLO is read segment by segment as the consumer pulls.
    const stream = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    return { stream, size: Number(res.headers.get('content-length') ?? 0), metadata: objectMetadata(res.headers) };
  }

  async stat(location: string): Promise<{ size: number; metadata: Metadata }> {
    const { container, key } = splitLocation(location, 'swift');
    const res = await this.head(container, key, location);
    if (!res) throw objectMissing(`swift object ${location} does not exist`);
    return { size: Number(res.headers.get('content-length') ?? 0), metadata: objectMetadata(res.headers) };
  }

  async delete(location: string): Promise<void> {
    const { container, key } = splitLocation(location, 'swift');
    const res = await this.head(container, key, location);
    if (!res) return;
    const slo = res.headers.get('x-static-large-object')?.toLowerCase() === 'true';
    // multipart-manifest=delete removes the manifest and every segment it
    // lists; on a plain object Swift refuses it, so plain objects get a plain DELETE.
    const del = await this.http.send({
      method: 'DELETE',
      path: encodePath(container, key),
      query: slo ? { 'multipart-manifest': 'delete' } : undefined,
      headers: slo ? { Accept: 'application/json' } : undefined,
      what: `DELETE ${location}${slo ? ' and its segments' : ''}`,
      accept: [404],
    });
    if (!slo) return discard(del);
    // The bulk-delete answer is 200 even when some segment could not go.
    const report = (await del.json().catch(() => ({}))) as { 'Response Status'?: string; Errors?: unknown[] };
    const status = report['Response Status'] ?? '';
    if (!/^(2\d\d|404)/.test(status) || (report.Errors?.length ?? 0) > 0) {
      throw storageFailed(`swift: DELETE ${location} and its segments failed: ${status} ${JSON.stringify(report.Errors ?? [])}`);
    }
  }

  locationOf(key: string): string {
    return `${this.opts.container}/${checkKey(key, 'swift object name')}`;
  }

  async removeAbandoned(keyPrefix: string, opts: AbandonedOptions = {}): Promise<string[]> {
    checkPrefix(keyPrefix, 'swift key prefix');
    const segc = this.opts.segmentContainer;
    const uploads = new Map<string, { name: string; startedAt: number; segments: string[] }>();
    for (const segment of await this.list(segc, keyPrefix)) {
      const parsed = parseSegmentName(segment);
      if (!parsed) continue;
      const u = uploads.get(parsed.upload) ?? { name: parsed.name, startedAt: parsed.startedAt, segments: [] };
      u.segments.push(segment);
      uploads.set(parsed.upload, u);
    }
    const live = new Map<string, Set<string>>();
    const removed: string[] = [];
    for (const u of uploads.values()) {
      if (opts.startedBefore !== undefined && u.startedAt >= opts.startedBefore) continue;
      let listed = live.get(u.name);
      if (!listed) live.set(u.name, (listed = await this.manifestSegments(u.name)));
      // Segments the committed object lists are the object: they stay.
      if (u.segments.some((s) => listed.has(s))) continue;
      for (const s of u.segments) {
        await discard(await this.http.send({ method: 'DELETE', path: encodePath(segc, s), what: `DELETE abandoned segment ${segc}/${s}`, accept: [404] }));
        removed.push(`${segc}/${s}`);
      }
    }
    return removed;
  }

  /** Every object name in a container under a prefix, page by page; none if the container does not exist. */
  private async list(container: string, prefix: string): Promise<string[]> {
    const names: string[] = [];
    for (;;) {
      const query: Record<string, string> = { format: 'json', prefix };
      if (names.length > 0) query.marker = names.at(-1)!;
      const res = await this.http.send({ method: 'GET', path: encodePath(container), query, what: `GET container ${container} (prefix ${prefix})`, accept: [404] });
      if (res.status === 404) {
        await discard(res);
        return names;
      }
      const page = (await res.json().catch(() => [])) as Array<{ name?: string }>;
      if (!Array.isArray(page) || page.length === 0) return names;
      for (const o of page) if (typeof o.name === 'string') names.push(o.name);
    }
  }

  /** Names (in the segment container) of the segments the object `key` is made of; none unless it is a committed SLO. */
  private async manifestSegments(key: string): Promise<Set<string>> {
    const { container, segmentContainer } = this.opts;
    const location = `${container}/${key}`;
    const head = await this.head(container, key, location);
    if (head?.headers.get('x-static-large-object')?.toLowerCase() !== 'true') return new Set();
    const res = await this.http.send({
      method: 'GET',
      path: encodePath(container, key),
      query: { 'multipart-manifest': 'get' },
      what: `GET manifest of ${location}`,
      accept: [404],
    });
    if (res.status === 404) {
      await discard(res);
      return new Set();
    }
    const manifest = (await res.json()) as Array<{ name?: string }>;
    const lead = `/${segmentContainer}/`;
    return new Set(manifest.map((s) => s.name ?? '').filter((n) => n.startsWith(lead)).map((n) => n.slice(lead.length)));
  }

  private async head(container: string, key: string, location: string): Promise<Response | null> {
    const res = await this.http.send({ method: 'HEAD', path: encodePath(container, key), what: `HEAD ${location}`, accept: [404] });
    await discard(res);
    return res.status === 404 ? null : res;
  }

  /** PUT of an existing container is a no-op (202), so this runs once per store. */
  private ensureContainers(signal: AbortSignal): Promise<void> {
    this.containersReady ??= (async () => {
      for (const c of [this.opts.container, this.opts.segmentContainer]) {
        await discard(await this.http.send({ method: 'PUT', path: encodePath(c), what: `PUT container ${c}`, signal }));
      }
    })().catch((err: unknown) => {
      this.containersReady = null;
      throw err;
    });
    return this.containersReady;
  }
}

const objectMetadata = (headers: Headers): Metadata => Object.freeze(metadataFromHeaders(headers.entries(), 'x-object-meta-'));
