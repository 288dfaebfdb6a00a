// The agent's local socket for its datastore (local-socket-path.ts): HTTP
// over a unix socket, so that the datastore's commands can be curl
// (managers/postgresql/archive/commands.ts) and no Node process starts per
// file. Open to root and the datastore's group only (the directory 0750,
// the socket 0660): what it serves back is decrypted change log.
//
//   POST /archive/<name>   hand a closed file over; 200 once it is durable
//                          in the store (or acknowledged unstored while
//                          archiving is off), 503 with the reason otherwise
//   GET  /restore/<name>   an archived file during a restore to a point;
//                          404 when the archive does not hold it, 500 when
//                          it failed its integrity check
import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { reason } from '../../strategies/storage/errors.js';
import type { Archiver } from './archiver.js';
import type { ReplaySession } from './replay-session.js';

export interface LocalSocketDeps {
  readonly socket: string;
  readonly group: number;
  readonly archiver: Archiver;
  /** The replay running now, if a restore to a point is. */
  readonly replay: () => ReplaySession | undefined;
  readonly log: Logger;
}

const ROUTE = /^\/(archive|restore)\/([A-Za-z0-9][A-Za-z0-9._-]{0,127})$/;

export async function startLocalSocket(deps: LocalSocketDeps): Promise<Server> {
  const dir = path.dirname(deps.socket);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chownSync(dir, 0, deps.group);
  chmodSync(dir, 0o750);
  rmSync(deps.socket, { force: true });
  const server = createServer((req, res) => {
    const m = ROUTE.exec(req.url ?? '');
    const answer = (status: number, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    };
    req.resume();
    if (!m) return answer(404, 'no such endpoint\n');
    const [, what, name] = m;
    if (what === 'archive' && req.method === 'POST') {
      deps.archiver.handOver(name!).then(
        (r) => answer(200, `${r}\n`),
        (err) => answer(503, `${reason(err)}\n`),
      );
      return;
    }
    if (what === 'restore' && req.method === 'GET') {
      const session = deps.replay();
      if (!session) return answer(404, 'no restore to a point is running\n');
      session.fetch(name!).then(
        (bytes) => (bytes ? answer(200, bytes) : answer(404, `${name} is not in the archive\n`)),
        (err) => {
          deps.log.error({ file: name, err: reason(err) }, 'an archived file could not be served');
          answer(500, `${reason(err)}\n`);
        },
      );
      return;
    }
    answer(405, 'method not allowed\n');
  });
  // Some segments take a while to reach a store: the datastore waits.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chownSync(deps.socket, 0, deps.group);
  chmodSync(deps.socket, 0o660);
  return server;
}
