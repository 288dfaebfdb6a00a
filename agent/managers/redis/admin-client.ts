// The agent's own connection to redis-server: its admin ACL user over the
// unix socket, through ioredis. Replies Redis refuses because of the
// caller's input become INVALID_ARGUMENT; a server that does not answer
// becomes NOT_READY; anything else DATASTORE (with the server's message,
// which never holds a secret: passwords travel as digests).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Logger } from '../../../lib/logger.js';
import { AgentError } from '../../errors.js';

export type Reply = unknown;

export interface AdminClientOptions {
  readonly socket: string;
  readonly user: string;
  /** Read at connect time: the secret file exists only after initDataDir. */
  readonly password: () => string;
  readonly log: Logger;
  readonly connectTimeoutMs?: number;
}

export class AdminClient {
  private client: Redis | null = null;

  constructor(private readonly opts: AdminClientOptions) {}

  /** Connects (once; ioredis reconnects by itself after a server restart). */
  async open(): Promise<void> {
    if (this.client) return;
    const client = newClient(this.opts, true);
    client.on('error', (err: Error) => this.opts.log.debug({ err: err.message }, 'redis admin connection error'));
    this.client = client;
    try {
      await client.connect();
    } catch (err) {
      this.client = null;
      client.disconnect();
      throw translate(err);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    // QUIT waits for the server's answer: only worth it on a live connection,
    // and never for long (a stopping server may not answer).
    if (client.status === 'ready') await Promise.race([client.quit().catch(() => undefined), sleep(2000)]);
    client.disconnect();
  }

  /** One command; arguments are RESP bulk strings, never re-parsed. */
  async call(command: string, ...args: string[]): Promise<Reply> {
    if (!this.client) await this.open();
    try {
      return await this.client!.call(command, ...args);
    } catch (err) {
      throw translate(err);
    }
  }

  /** MULTI/EXEC: the server runs all commands with no other client in between. Throws the first command's error. */
  async transaction(commands: ReadonlyArray<readonly string[]>): Promise<Reply[]> {
    if (!this.client) await this.open();
    let results: Array<[Error | null, unknown]> | null;
    try {
      const multi = this.client!.multi();
      for (const [command, ...args] of commands) multi.call(command!, ...args);
      results = await multi.exec();
    } catch (err) {
      throw translate(err);
    }
    if (!results) throw new AgentError('AGENT_ERR_DATASTORE', 'the transaction was aborted by the server');
    const failed = results.find(([e]) => e);
    if (failed) throw translate(failed[0]);
    return results.map(([, r]) => r);
  }

  /** INFO <section> as a map. */
  async info(section: string): Promise<Record<string, string>> {
    return parseInfo(String(await this.call('INFO', section)));
  }
}

/** Connects, PINGs and disconnects: true only if the server answers PONG (not while LOADING). Never throws. */
export async function pingOnce(opts: AdminClientOptions): Promise<boolean> {
  let client: Redis | null = null;
  try {
    client = newClient({ ...opts, connectTimeoutMs: opts.connectTimeoutMs ?? 2000 }, false);
    client.on('error', () => undefined);
    await client.connect();
    return (await client.call('PING')) === 'PONG';
  } catch {
    return false;
  } finally {
    client?.disconnect();
  }
}

function newClient(opts: AdminClientOptions, reconnect: boolean): Redis {
  return new Redis(opts.socket, {
    username: opts.user,
    password: opts.password(),
    lazyConnect: true,
    connectionName: 'coffer-agent',
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    // The ready check waits out LOADING; the agent's callers want an
    // answer now (probe) or an error they can report (RPCs).
    enableReadyCheck: false,
    // Fail fast while the server is away instead of queueing commands.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnect ? (n: number) => Math.min(200 * n, 2000) : () => null,
  });
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// Server replies that mean the caller asked for something impossible.
const CALLER_ERRORS: ReadonlyArray<RegExp> = [
  /^ERR Error in ACL SETUSER modifier/,
  /^ERR CONFIG SET failed/,
  /^ERR Unknown option or number of arguments for CONFIG SET/,
  /^ERR Invalid argument/,
];

export function translate(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  const e = err as { name?: string; message?: string; code?: string };
  const message = String(e?.message ?? err);
  if (e?.name === 'ReplyError') {
    if (CALLER_ERRORS.some((re) => re.test(message))) return new AgentError('AGENT_ERR_INVALID_ARGUMENT', `redis refused: ${message}`);
    if (message.startsWith('LOADING')) return new AgentError('AGENT_ERR_NOT_READY', 'redis is loading its dataset', { cause: err });
    return new AgentError('AGENT_ERR_DATASTORE', `redis refused a command: ${message}`, { cause: err });
  }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOENT' || /Connection is closed|Stream isn't writeable|connect ETIMEDOUT/.test(message)) {
    return new AgentError('AGENT_ERR_NOT_READY', `redis is not answering (${e?.code ?? message})`, { cause: err });
  }
  return new AgentError('AGENT_ERR_DATASTORE', `redis failed: ${message}`, { cause: err });
}
