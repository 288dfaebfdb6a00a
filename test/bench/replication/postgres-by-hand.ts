// A PostgreSQL standby made by hand with the same tools, the way an
// operator following the PostgreSQL docs would, as the postgres OS user:
//   pg_basebackup -d 'host=SOURCE ... sslmode=verify-full passfile=...' \
//     -D NEWDATADIR -R -X stream -C -S SLOT --checkpoint=fast
//   postgres -D NEWDATADIR (port and socket of its own)
// timed until its WAL receiver streams and it has replayed everything the
// source has written. The slot (-C -S) matches Coffer, which streams every
// replica from a physical slot of its own; --checkpoint=fast too (the
// default, spread, waits for the source's next paced checkpoint).
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lookupOsUser } from '../../../lib/os-user.js';
import { freePort } from '../../support/ports.js';
import { runPipeline, type Teardown } from '../harness.js';
import { startDaemon, until, type Daemon } from './daemon.js';
import { Phases } from './phases.js';
import { PG_BIN } from '../pg-bin.js';
import { pgCaughtUp, pgSql, type PgServer } from './pg-sql.js';

export interface PgSourceForHand extends PgServer {
  /** A REPLICATION role the source's pg_hba.conf admits over hostssl, and its secret. */
  readonly user: string;
  readonly password: string;
  /** The CA the source's certificate is checked against, readable by postgres. */
  readonly ca: string;
  /** Its TCP port. */
  readonly tcpPort: number;
}

export interface PgHandReplica {
  readonly seconds: number;
  readonly phases: string;
  readonly server: PgServer;
  readonly daemon: Daemon;
  readonly slot: string;
}

export async function pgReplicaByHand(td: Teardown, dir: string, src: PgSourceForHand, slot: string): Promise<PgHandReplica> {
  const pg = lookupOsUser('postgres');
  const own = (p: string, mode: number) => {
    mkdirSync(p, { recursive: true, mode });
    chownSync(p, pg.uid, pg.gid);
  };
  own(dir, 0o755);
  own(path.join(dir, 'run'), 0o755);
  const data = path.join(dir, 'data');
  // Set-up, not timed: the replica's own hba and ident files (root over
  // the socket as coffer_admin, as on the source), and the passfile.
  const hba = path.join(dir, 'pg_hba.conf');
  const ident = path.join(dir, 'pg_ident.conf');
  const passfile = path.join(dir, 'passfile');
  writeFileSync(hba, 'local all coffer_admin peer map=bench\n', { mode: 0o644 });
  writeFileSync(ident, 'bench root coffer_admin\n', { mode: 0o644 });
  writeFileSync(passfile, `127.0.0.1:${src.tcpPort}:*:${src.user}:${src.password}\n`, { mode: 0o600 });
  chownSync(passfile, pg.uid, pg.gid);
  const server: PgServer = { socketDir: path.join(dir, 'run'), port: await freePort() };
  const asPg = { uid: pg.uid, gid: pg.gid };

  const ph = new Phases();
  const conninfo = `host=127.0.0.1 port=${src.tcpPort} user=${src.user} sslmode=verify-full sslrootcert=${src.ca} passfile=${passfile}`;
  await runPipeline(
    [{ argv: [`${PG_BIN}/pg_basebackup`, '-d', conninfo, '-D', data, '-R', '-X', 'stream', '-C', '-S', slot, '--checkpoint=fast', '--no-password'], env: { ...process.env, HOME: pg.home, LC_ALL: 'C.UTF-8' }, ...asPg }],
    null,
  );
  ph.mark('pg_basebackup -R -X stream');
  const daemon = startDaemon(
    td,
    [`${PG_BIN}/postgres`, '-D', data, '-c', `port=${server.port}`, '-c', "listen_addresses=", '-c', `unix_socket_directories=${server.socketDir}`, '-c', `hba_file=${hba}`, '-c', `ident_file=${ident}`],
    { log: path.join(dir, 'postgres.log'), ...asPg, env: { ...process.env, HOME: pg.home }, stopSignal: 'SIGINT' },
  );
  await until('the by-hand standby to accept connections', async () => ((await pgSql(server, 'SELECT 1')) === '1' ? true : undefined), 300_000);
  ph.mark('server start');
  await until('the by-hand standby to stream and catch up', async () => ((await pgCaughtUp(src, server)) ? true : undefined), 600_000);
  ph.mark('streaming, caught up');
  return { seconds: ph.seconds, phases: ph.text, server, daemon, slot };
}
