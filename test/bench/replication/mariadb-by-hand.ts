// A MariaDB replica made by hand with the same tools Coffer drives, the way
// an operator following the MariaDB docs would:
//   mariadb-backup --backup --stream=xbstream | mbstream -x -C NEWDATADIR
//   mariadb-backup --prepare --target-dir=NEWDATADIR; chown -R mysql
//   mariadbd --defaults-file=... (server_id of its own, binary log, read_only)
//   SET GLOBAL gtid_slave_pos = <xtrabackup_binlog_info's GTID>;
//   CHANGE MASTER TO ... MASTER_SSL=1 ..., MASTER_USE_GTID=slave_pos; START SLAVE
// timed until its IO and SQL threads run and it has applied everything
// the source has logged.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { socketOf } from '../../support/dataset.js';
import { run, runPipeline, type Teardown } from '../harness.js';
import { startDaemon, until } from './daemon.js';
import { handServer } from './hand-server.js';
import { Phases } from './phases.js';
import { gtidOfBinlogInfo, mariadbCaughtUp, mariadbSql } from './mariadb-sql.js';

export interface MariadbSourceForHand {
  readonly baseDir: string;
  readonly port: number;
  /** A REPLICATION SLAVE account (REQUIRE SSL) made beforehand, and its secret. */
  readonly user: string;
  readonly password: string;
  /** The CA the source's certificate is checked against, readable by mysql. */
  readonly ca: string;
}

export interface HandTiming {
  readonly seconds: number;
  readonly phases: string;
}

/**
 * How the source's copy reaches NEWDATADIR (mbstream -x into it), and the
 * phase name it is timed under. By hand: mariadb-backup | mbstream -x.
 */
export interface CopyStep {
  readonly name: string;
  copy(dataDir: string): Promise<void>;
}

export async function mariadbReplicaByHand(td: Teardown, dir: string, src: MariadbSourceForHand, serverId: number, copyStep?: CopyStep): Promise<HandTiming> {
  const { data, work, socket, lines } = await handServer(dir, 'r', serverId);
  const cnf = path.join(dir, 'my.cnf');
  writeFileSync(
    cnf,
    [
      ...lines,
      'read_only = ON',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const ph = new Phases();
  const mark = (name: string) => ph.mark(name);

  if (copyStep) {
    await copyStep.copy(data);
    mark(copyStep.name);
  } else {
    await runPipeline(
      [
        { argv: ['mariadb-backup', '--no-defaults', '--backup', '--stream=xbstream', `--target-dir=${work}/target`, `--tmpdir=${work}/tmp`, `--socket=${socketOf(src.baseDir)}`, '--user=root'] },
        { argv: ['mbstream', '-x', '-C', data] },
      ],
      null,
    );
    mark('backup | mbstream -x');
  }
  await run(['mariadb-backup', '--no-defaults', '--prepare', `--target-dir=${data}`]);
  mark('prepare');
  await run(['chown', '-R', 'mysql:mysql', dir]);
  mark('chown');
  startDaemon(td, ['mariadbd', `--defaults-file=${cnf}`, '--user=mysql'], { log: path.join(dir, 'mariadbd.log') });
  await until('the by-hand replica to accept connections', async () => ((await mariadbSql(socket, 'SELECT 1')).trim() === '1' ? true : undefined), 300_000);
  mark('server start');
  const gtid = gtidOfBinlogInfo(readFileSync(path.join(data, 'xtrabackup_binlog_info'), 'utf8'));
  const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  await mariadbSql(
    socket,
    `SET GLOBAL gtid_slave_pos = ${lit(gtid)};\n` +
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${src.port}, MASTER_USER=${lit(src.user)}, MASTER_PASSWORD=${lit(src.password)}, ` +
      `MASTER_SSL=1, MASTER_SSL_CA=${lit(src.ca)}, MASTER_SSL_VERIFY_SERVER_CERT=1, MASTER_USE_GTID=slave_pos;\nSTART SLAVE;`,
  );
  mark('CHANGE MASTER, START SLAVE');
  await until('the by-hand replica to run both threads and catch up', async () => ((await mariadbCaughtUp(socketOf(src.baseDir), socket)) ? true : undefined), 600_000);
  mark('caught up');
  return { seconds: ph.seconds, phases: ph.text };
}
