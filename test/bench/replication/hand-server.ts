// The directories and the common option lines of a mariadbd an operator
// starts by hand in the benches (a replica, a Galera joiner): one place, so
// the by-hand paths run with the same settings Coffer's instances do.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../support/ports.js';

export interface HandServer {
  readonly data: string;
  /** mariadb-backup's target and tmp dirs live under it. */
  readonly work: string;
  readonly socket: string;
  readonly port: number;
  /** The [mysqld] lines every by-hand server starts with, up to the binary log (ROW, log_slave_updates). */
  readonly lines: string[];
}

/** Makes DIR's data, work, run and tmp dirs; `tag` names the socket and pid file. */
export async function handServer(dir: string, tag: string, serverId: number): Promise<HandServer> {
  const data = path.join(dir, 'data');
  const work = path.join(dir, 'work');
  for (const d of [data, path.join(work, 'target'), path.join(work, 'tmp'), path.join(dir, 'run'), path.join(dir, 'tmp')]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const socket = path.join(dir, 'run', `${tag}.sock`);
  const port = await freePort();
  const lines = [
    '[mysqld]',
    `datadir = ${data}`,
    `socket = ${socket}`,
    `port = ${port}`,
    'bind-address = 127.0.0.1',
    `pid-file = ${path.join(dir, 'run', `${tag}.pid`)}`,
    `tmpdir = ${path.join(dir, 'tmp')}`,
    'skip-name-resolve',
    // What Coffer's instances run with (the template), so any can become a source.
    'innodb_buffer_pool_size = 128M',
    `server_id = ${serverId}`,
    'log_bin = mysql-bin',
    'binlog_format = ROW',
    'log_slave_updates = ON',
  ];
  return { data, work, socket, port, lines };
}
