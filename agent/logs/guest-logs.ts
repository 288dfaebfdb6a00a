// The guest-log core, once for every datastore (docs/logs.md): the
// manager's table of logs (managers/<datastore>/logs.ts) plus the agent's
// own (guest), listed with Trove's statuses, switched on and off through
// the configuration overrides, tailed and published with every password
// redacted (redact.ts).
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Logger } from '../../lib/logger.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { LogInfo } from '../../proto/gen/coffer/agent/v1/logs.js';
import { AgentError, invalid, notFound, unimplemented } from '../errors.js';
import type { ConfigurationCapability } from '../managers/manager.js';
import type { DatastoreLog } from './log-table.js';
import { LOG_CONTAINER, type LogStores } from './log-store.js';
import type { PublishedStore } from './published.js';
import { redactLine } from './redact.js';
import { tailFile } from './tail.js';

export const GUEST_LOG = 'guest';
const NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** Trove's guest_log_limit: one published object holds at most this many bytes of lines. */
const OBJECT_LIMIT = 1024 * 1024;
const MAX_TAIL_LINES = 10_000;

export interface GuestLogsDeps {
  readonly instanceId: string;
  readonly datastore: string;
  readonly logs: readonly DatastoreLog[];
  readonly configuration: ConfigurationCapability | undefined;
  /** The parameters waiting for a datastore restart. */
  readonly pendingRestart: () => readonly string[];
  readonly markRestartRequired: (names: readonly string[]) => void;
  readonly requireRunning: (what: string) => void;
  readonly published: PublishedStore;
  readonly stores: LogStores;
  readonly log: Logger;
}

export class GuestLogs {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: GuestLogsDeps) {}

  list(): LogInfo[] {
    return this.deps.logs.map((l) => this.info(l));
  }

  /** The log by name: INVALID_ARGUMENT for a malformed name, NOT_FOUND naming the logs there are. */
  find(name: string): DatastoreLog {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw invalid(`log name ${JSON.stringify(String(name).slice(0, 64))} is not a log name (lowercase letters, digits and _, at most 64); logs: ${this.names()}`);
    }
    const found = this.deps.logs.find((l) => l.name === name);
    if (!found) throw notFound(`no log named ${name} on this ${this.deps.datastore} instance; logs: ${this.names()}`);
    return found;
  }

  show(name: string): LogInfo {
    return this.info(this.find(name));
  }

  async setEnabled(name: string, enabled: boolean): Promise<{ log: LogInfo; restartRequired: boolean }> {
    const l = this.find(name);
    if (l.type === 'SYS' || !l.switch) throw invalid(`${name} is a SYS log, always on: it cannot be ${enabled ? 'enabled' : 'disabled'}`);
    const c = this.deps.configuration;
    if (!c) throw unimplemented('configuration', this.deps.datastore);
    this.deps.requireRunning(`${enabled ? 'enable' : 'disable'} a log`);
    const r = await c.update(enabled ? l.switch.on : l.switch.off, false);
    if (r.restartRequired) this.deps.markRestartRequired(r.changes.filter((x) => x.restartRequired).map((x) => x.name));
    return { log: this.info(l), restartRequired: r.restartRequired };
  }

  /** The last lines, then (follow) new ones, redacted. */
  tail(name: string, lines: number, follow: boolean, signal: AbortSignal, onLines: (lines: string[]) => void): Promise<void> {
    const l = this.find(name);
    if (!Number.isInteger(lines) || lines < 0) throw invalid(`lines must be 0 or more, got ${lines}`);
    const n = Math.min(lines || 50, MAX_TAIL_LINES);
    return tailFile(l.file, { lines: n, follow, signal, onLines: (batch) => onLines(batch.map(redactLine)) });
  }

  publish(name: string, storage: string): Promise<{ log: LogInfo; location: string; bytes: number }> {
    const l = this.find(name);
    return this.serially(async () => {
      if (!existsSync(l.file)) throw new AgentError('AGENT_ERR_NOT_READY', `log ${name} has nothing to publish yet (${l.type === 'USER' ? 'enable it first' : 'the file is not written yet'})`);
      let pub = this.deps.published.get(name);
      if (pub && pub.storage !== (storage || pub.storage)) {
        await this.discardNow(l);
        pub = undefined;
      }
      const { size, digest } = await fileState(l.file);
      if (pub && (size < pub.size || digest !== pub.headerDigest)) {
        this.deps.log.info({ log: name }, 'log rotated since it was published: discarding what was published');
        await this.discardNow(l);
        pub = undefined;
      }
      const ls = this.deps.stores.get(storage || pub?.storage || '');
      const objects = [...(pub?.objects ?? [])];
      let offset = pub?.size ?? 0;
      let bytes = 0;
      for await (const chunk of completeLines(l.file, offset, size)) {
        const key = `${this.prefix(l)}${objectName()}`;
        const body = Buffer.from(chunk.lines.map((x) => redactLine(x) + '\n').join(''));
        await saveObject(ls.store, ls.key(key), body, { lines: String(chunk.lines.length) });
        objects.push(key);
        offset = chunk.end;
        bytes += body.length;
        this.deps.published.set(name, { storage: ls.name, size: offset, headerDigest: digest, objects });
      }
      const meta = { log_name: l.name, log_type: l.type, log_file: l.file, log_size: offset, log_header_digest: digest, objects };
      await saveObject(ls.store, ls.key(this.metafile(l)), Buffer.from(JSON.stringify(meta)), {});
      this.deps.published.set(name, { storage: ls.name, size: offset, headerDigest: digest, objects });
      return { log: this.info(l), location: ls.store.locationOf(ls.key(this.metafile(l))), bytes };
    });
  }

  discard(name: string): Promise<LogInfo> {
    const l = this.find(name);
    return this.serially(async () => {
      await this.discardNow(l);
      return this.info(l);
    });
  }

  private async discardNow(l: DatastoreLog): Promise<void> {
    const pub = this.deps.published.get(l.name);
    if (!pub) return;
    const ls = this.deps.stores.get(pub.storage);
    for (const key of [...pub.objects, this.metafile(l)]) {
      await ls.store.delete(ls.store.locationOf(ls.key(key)));
    }
    this.deps.published.set(l.name, undefined);
  }

  private info(l: DatastoreLog): LogInfo {
    let size = 0;
    try {
      size = statSync(l.file).size;
    } catch {
      // not written yet
    }
    const pub = this.deps.published.get(l.name);
    const published = pub?.size ?? 0;
    const overrides = this.deps.configuration?.overrides() ?? {};
    const enabled = l.type === 'SYS' || (l.switch?.isOn(overrides) ?? false);
    const pending = this.deps.pendingRestart();
    const restart = l.switch ? Object.keys(l.switch.on).some((k) => pending.includes(k)) : false;
    const rotated = published > 0 && (size < published || firstLineDigest(l.file) !== pub!.headerDigest);
    let status: string;
    if (restart) status = 'Restart Required';
    else if (!size || !enabled) status = l.type === 'USER' ? (enabled ? 'Enabled' : 'Disabled') : 'Unavailable';
    else if (rotated) status = 'Rotated';
    else if (size > published) status = published ? 'Partial' : 'Ready';
    else status = published ? 'Published' : 'Enabled';
    return {
      name: l.name,
      type: l.type,
      enabled,
      sizeBytes: size,
      status,
      publishedBytes: published,
      pendingBytes: rotated ? size : Math.max(0, size - published),
      container: published ? LOG_CONTAINER : 'None',
      prefix: published ? this.prefix(l) : 'None',
      metafile: this.metafile(l),
    };
  }

  private prefix(l: DatastoreLog): string {
    return `${this.deps.instanceId}/${this.deps.datastore}-${l.name}/`;
  }

  private metafile(l: DatastoreLog): string {
    return `${this.prefix(l).replace(/\/$/, '')}_metafile`;
  }

  private names(): string {
    return this.deps.logs.map((l) => l.name).join(', ');
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

let lastStamp = '';
let sameStamp = 0;
/** Trove's object names: log-<UTC timestamp>, made unique within a millisecond. */
function objectName(): string {
  const iso = new Date().toISOString().replace(/Z$/, '');
  sameStamp = iso === lastStamp ? sameStamp + 1 : 0;
  lastStamp = iso;
  return `log-${iso}${String(sameStamp).padStart(3, '0')}`;
}

function firstLineDigest(file: string): string {
  try {
    return createHash('sha256').update(readHead(file)).digest('hex');
  } catch {
    return '';
  }
}

function readHead(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n);
    const nl = head.indexOf(0x0a);
    return nl >= 0 ? head.subarray(0, nl) : head;
  } finally {
    closeSync(fd);
  }
}

async function fileState(file: string): Promise<{ size: number; digest: string }> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    return { size, digest: firstLineDigest(file) };
  } finally {
    await fh.close();
  }
}

/** The complete lines between start and end, in pieces of at most OBJECT_LIMIT bytes; `end` of each is the offset after it. */
async function* completeLines(file: string, start: number, end: number): AsyncGenerator<{ lines: string[]; end: number }> {
  if (end <= start) return;
  const rl = createInterface({ input: createReadStream(file, { start, end: end - 1 }), crlfDelay: Infinity });
  let lines: string[] = [];
  let bytes = 0;
  let offset = start;
  let pieceEnd = start;
  const total = end - start;
  let seen = 0;
  for await (const line of rl) {
    const len = Buffer.byteLength(line) + 1;
    if (seen + len > total) break; // the last line has no newline yet: it waits for the next publish
    seen += len;
    offset += len;
    if (bytes + len > OBJECT_LIMIT && lines.length) {
      yield { lines, end: pieceEnd };
      lines = [];
      bytes = 0;
    }
    lines.push(line);
    bytes += len;
    pieceEnd = offset;
  }
  if (lines.length) yield { lines, end: pieceEnd };
}

async function saveObject(store: ObjectStorage, key: string, body: Buffer, metadata: Record<string, string>): Promise<void> {
  const sink = store.save(key, { metadata });
  sink.stream.end(body);
  await sink.done;
}
