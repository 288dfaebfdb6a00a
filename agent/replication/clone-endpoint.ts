// A source's one-shot clone endpoints (docs/replication.md, "Cloned from
// the source"): AddReplicaAccess with a clone ticket opens one per replica,
// and the replica's Prepare copies the source from it in one pass, the way
// `mariadb-backup --backup --stream=xbstream | mbstream -x` does it by hand.
//
//  - A TLS listener on the datastore's own address (a replica that can reach
//    the source's datastore can reach it) and an ephemeral port, served with
//    the datastore's serving certificate, which replicas verify against the
//    deployment's CA as they verify the datastore's replication TLS.
//  - It takes one connection presenting the ticket the control generated
//    (compared as digests, in constant time; never logged): the listener
//    closes then, so the ticket cannot be used twice. A wrong ticket is
//    refused and the endpoint stays open for the right one. Unused past its
//    expiry, it closes.
//  - The copy is the datastore's physical backup tool's raw output (the
//    backup capability's own source: mariadb-backup), optionally through
//    zstd -1, framed (clone-wire.ts) and ended by a trailer with the byte
//    count, the tool's exit and the position where the copy ends. The
//    replica going away stops the tool.
//  - A copy being served is one of the agent's operations (operations.ts),
//    of kind `replica-clone` (the source's work for a replica, as
//    `replica-snapshot` is): GetStatus lists it, phase `starting` then
//    `stream`, until it ends however it ends; CancelOperation stops its
//    tool, and the trailer tells the replica why. It takes no lock, as
//    before: the source's other work goes on while it serves.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { YoungCollector } from '../../lib/young-gc.js';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { Operations, RunningOperation } from '../operations.js';
import { compressStage } from '../../strategies/backup/compression.js';
import { closingFrame, DEFAULT_CLONE_TTL_SECONDS, frameHeader, type CloneCompression, MAX_LINE, parseHello, type CloneTrailer } from './clone-wire.js';

/** The copy a clone streams: the tool's raw output, and where it ends once the tool exited. */
export interface CloneCopy {
  readonly tool: string;
  readonly stream: Readable;
  /** Resolves with the position once the tool exited 0; rejects with its reason otherwise. */
  readonly done: Promise<{ position: string }>;
}

export interface CloneEndpointDeps {
  /** The datastore's address (the listener's). */
  readonly bind: string;
  /** The datastore's serving pair (files). */
  readonly tls: Readonly<{ cert: string; key: string }>;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The agent's running operations, where a copy being served is listed and cancelled. */
  readonly operations: Pick<Operations, 'begin' | 'end'>;
  /** Starts the tool; the signal stops it. */
  startCopy(signal: AbortSignal): Promise<CloneCopy>;
}

/** How long a connection may take to say its first line. */
const HELLO_TIMEOUT_MS = 15_000;

const digest = (ticket: string): Buffer => createHash('sha256').update(ticket).digest();

interface Endpoint {
  readonly server: tls.Server;
  readonly port: number;
  readonly ticket: Buffer;
  used: boolean;
  closed: boolean;
  readonly timer: NodeJS.Timeout;
}

export class CloneEndpoints {
  private readonly open = new Map<string, Endpoint>();

  constructor(private readonly deps: CloneEndpointDeps) {}

  /** Opens (or opens anew, closing the last one) the endpoint for one replica; resolves its port. */
  async openFor(replicaId: string, ticket: string, ttlSeconds: number): Promise<number> {
    this.close(replicaId, 'replaced by a new one');
    const { log } = this.deps;
    const ttl = ttlSeconds > 0 ? ttlSeconds : DEFAULT_CLONE_TTL_SECONDS;
    const server = tls.createServer({
      cert: readFileSync(this.deps.tls.cert),
      key: readFileSync(this.deps.tls.key),
      minVersion: 'TLSv1.2',
    });
    server.on('error', (err) => log.warn({ err: err.message, replicaId }, 'clone endpoint error'));
    server.listen(0, this.deps.bind);
    await once(server, 'listening');
    server.unref();
    const port = (server.address() as AddressInfo).port;
    const timer = setTimeout(() => {
      if (!ep.used) log.info({ replicaId, port, ttlSeconds: ttl }, 'clone endpoint expired unused: closed');
      this.close(replicaId, 'expired');
    }, ttl * 1000);
    timer.unref();
    const ep: Endpoint = { server, port, ticket: digest(ticket), used: false, closed: false, timer };
    this.open.set(replicaId, ep);
    server.on('secureConnection', (socket) => void this.onConnection(replicaId, ep, socket));
    log.info({ replicaId, address: `${this.deps.bind}:${port}`, ttlSeconds: ttl }, 'clone endpoint open');
    return port;
  }

  /** Closes one replica's endpoint, if it has one. */
  close(replicaId: string, why: string): void {
    const ep = this.open.get(replicaId);
    if (!ep) return;
    this.open.delete(replicaId);
    clearTimeout(ep.timer);
    if (!ep.closed) {
      ep.closed = true;
      ep.server.close();
      this.deps.log.debug({ replicaId, port: ep.port, why }, 'clone endpoint closed');
    }
  }

  closeAll(): void {
    for (const id of [...this.open.keys()]) this.close(id, 'agent stopping');
  }

  private async onConnection(replicaId: string, ep: Endpoint, socket: tls.TLSSocket): Promise<void> {
    const { log } = this.deps;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', (err) => log.debug({ err: err.message, peer }, 'clone connection error'));
    let line: string;
    try {
      line = await readLine(socket);
    } catch (err) {
      log.warn({ peer, err: (err as Error).message }, 'clone connection said nothing usable');
      socket.destroy();
      return;
    }
    let hello: { compression: CloneCompression; ticket: string };
    try {
      hello = parseHello(line);
    } catch (err) {
      refuse(socket, (err as Error).message);
      log.warn({ peer, replicaId, reason: (err as Error).message }, 'clone request refused');
      return;
    }
    const given = digest(hello.ticket);
    if (ep.used || ep.closed || !timingSafeEqual(given, ep.ticket)) {
      const reason = ep.used || ep.closed ? 'this clone endpoint has been used already' : 'the clone ticket is not valid for this endpoint';
      refuse(socket, reason);
      log.warn({ peer, replicaId, reason }, 'clone request refused');
      return;
    }
    // One use: no other connection is taken from now on.
    ep.used = true;
    this.close(replicaId, 'taken');
    const op = this.deps.operations.begin('replica-clone');
    try {
      await this.serve(replicaId, socket, hello.compression, peer, op);
    } finally {
      this.deps.operations.end(op);
    }
  }

  private async serve(replicaId: string, socket: tls.TLSSocket, compression: CloneCompression, peer: string, op: RunningOperation): Promise<void> {
    const { runner } = this.deps;
    const log = this.deps.log.child({ operationId: op.id });
    // The operation's: aborted by CancelOperation or the agent stopping, or
    // here when the replica goes away or the copy fails; it stops the tool.
    const stop = op.controller;
    // The replica went away: its copy is of no use, the tool is stopped.
    const onClose = (): void => stop.abort(new Error('the replica closed the connection'));
    socket.once('close', onClose);
    const started = Date.now();
    let copy: CloneCopy;
    try {
      copy = await this.deps.startCopy(stop.signal);
    } catch (err) {
      refuse(socket, `the source could not start its copy: ${(err as Error).message}`);
      log.error({ err, replicaId }, 'clone: the copy did not start');
      return;
    }
    socket.write(`OK ${copy.tool}\n`);
    op.phase = 'stream';
    log.info({ replicaId, peer, tool: copy.tool, compression }, 'clone: streaming the copy');
    let sent = 0;
    let trailer: CloneTrailer;
    try {
      const stage = compression === 'zstd' ? compressStage('zstd', copy.stream, { runner, log }) : undefined;
      const head = stage ? stage.head : [copy.stream];
      const out = head.length === 1 ? head[0] : new PassThrough();
      const joined = head.length === 1 ? Promise.resolve() : pipeline([...head, out as PassThrough]);
      joined.catch((err: unknown) => out.destroy(err as Error));
      // The dead Buffers of each few MiB freed by a scavenge, not a full GC (lib/young-gc.ts).
      const young = new YoungCollector();
      try {
        for await (const chunk of out as AsyncIterable<Buffer>) {
          if (socket.destroyed) throw new Error('the replica closed the connection');
          if (chunk.length === 0) continue;
          sent += chunk.length;
          young.add(chunk.length);
          socket.cork();
          socket.write(frameHeader(chunk.length));
          const more = socket.write(chunk);
          socket.uncork();
          // A cancel does not wait for a replica that stopped reading.
          if (!more) await drained(socket, stop.signal);
        }
        await joined;
      } catch (err) {
        throw stage?.failure() ?? err;
      } finally {
        await stage?.reap();
      }
      const { position } = await copy.done;
      trailer = { bytes: sent, exit: 0, position, tool: copy.tool };
      log.info({ replicaId, bytes: sent, ms: Date.now() - started, position }, 'clone: copy sent');
    } catch (err) {
      // The tool's own reason where it has one (killed, its stderr).
      const reason = await copy.done.then(
        () => (err as Error).message,
        (e: unknown) => (e as Error).message,
      );
      trailer = { bytes: sent, exit: 1, error: reason, position: '', tool: copy.tool };
      log.error({ replicaId, bytes: sent, reason }, 'clone: the copy failed');
      if (!stop.signal.aborted) stop.abort(new Error('the copy failed'));
    }
    socket.off('close', onClose);
    if (!socket.destroyed) socket.end(closingFrame(trailer));
  }
}

function refuse(socket: tls.TLSSocket, reason: string): void {
  socket.end(`ERR ${reason.replace(/\n/g, ' ')}\n`);
}

function drained(socket: tls.TLSSocket, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      socket.off('drain', ok);
      socket.off('close', closed);
      signal.removeEventListener('abort', aborted);
      if (err) reject(err);
      else resolve();
    };
    const ok = (): void => done();
    const closed = (): void => done(new Error('the replica closed the connection'));
    const aborted = (): void => done(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    if (signal.aborted) return aborted();
    socket.on('drain', ok);
    socket.on('close', closed);
    signal.addEventListener('abort', aborted, { once: true });
  });
}

/** The first line of a connection, at most MAX_LINE bytes, within the hello timeout. */
export function readLine(socket: tls.TLSSocket, timeoutMs = HELLO_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('no request line in time')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl >= 0) {
        const rest = buf.subarray(nl + 1);
        finish(undefined, buf.subarray(0, nl).toString('utf8'));
        if (rest.length) socket.unshift(rest);
        return;
      }
      if (buf.length > MAX_LINE) finish(new Error('request line too long'));
    };
    const onEnd = (): void => finish(new Error('the connection closed before its first line'));
    const finish = (err?: Error, line?: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(line!);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

