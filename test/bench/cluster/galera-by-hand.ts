// A Galera member joined by hand with the same tools a mariabackup SST
// drives, the way MariaDB's "Manual SST of Galera Cluster Node With
// mariadb-backup" has an operator do it:
//   joiner:  socat -u TCP-LISTEN:port STDOUT | mbstream -x -C NEWDATADIR
//   donor:   mariadb-backup --backup --galera-info --stream=xbstream | socat -u STDIN TCP:joiner:port
//   joiner:  mariadb-backup --prepare --target-dir=NEWDATADIR; chown -R mysql
//            grastate.dat from xtrabackup_galera_info (uuid:seqno)
//            mariadbd with the member's wsrep settings (it joins by IST, or
//            with nothing to transfer when the cluster took no write since)
// timed until the node is Synced in the primary component. The transport
// is socat over TCP on 127.0.0.1 as in Galera's own SST (a local pipe would
// save a hop the SST cannot).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { socketOf } from '../../support/dataset.js';
import { freePort } from '../../support/ports.js';
import { run, runPipeline, type Teardown } from '../harness.js';
import { startDaemon, until, type Daemon } from '../replication/daemon.js';
import { handServer } from '../replication/hand-server.js';
import { Phases } from '../replication/phases.js';
import { mariadbSql } from '../replication/mariadb-sql.js';

export interface DonorForHand {
  readonly baseDir: string;
  readonly gmcastPort: number;
  readonly clusterName: string;
  readonly gtidDomainId: number;
  /** The cluster's size once this node has joined. */
  readonly sizeAfter: number;
}

export interface HandJoin {
  readonly seconds: number;
  readonly phases: string;
  readonly socket: string;
  readonly daemon: Daemon;
  /** How the node caught up after its start, from its log. */
  readonly transfer: string;
}

export async function galeraJoinByHand(td: Teardown, dir: string, donor: DonorForHand, serverId: number): Promise<HandJoin> {
  const { data, work, socket, port, lines } = await handServer(dir, 'j', serverId);
  const [gmcast, ist, sst, streamPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const cnf = path.join(dir, 'my.cnf');
  const log = path.join(dir, 'mariadbd.log');
  writeFileSync(
    cnf,
    [
      ...lines,
      'innodb_autoinc_lock_mode = 2',
      'wsrep_on = ON',
      'wsrep_provider = /usr/lib/galera/libgalera_smm.so',
      `wsrep_cluster_name = ${donor.clusterName}`,
      `wsrep_cluster_address = gcomm://127.0.0.1:${donor.gmcastPort}`,
      `wsrep_node_address = 127.0.0.1:${gmcast}`,
      `wsrep_node_incoming_address = 127.0.0.1:${port}`,
      `wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:${gmcast};ist.recv_addr=127.0.0.1:${ist};gcache.size=128M"`,
      `wsrep_sst_receive_address = 127.0.0.1:${sst}`,
      'wsrep_sst_method = mariabackup',
      'wsrep_gtid_mode = ON',
      `wsrep_gtid_domain_id = ${donor.gtidDomainId}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const ph = new Phases();

  // The joiner listens, the donor streams into it.
  const receive = runPipeline(
    [{ argv: ['socat', '-u', `TCP-LISTEN:${streamPort},bind=127.0.0.1,reuseaddr`, 'STDOUT'] }, { argv: ['mbstream', '-x', '-C', data] }],
    null,
  );
  const send = runPipeline(
    [
      { argv: ['mariadb-backup', '--no-defaults', '--backup', '--galera-info', '--stream=xbstream', `--target-dir=${work}/target`, `--tmpdir=${work}/tmp`, `--socket=${socketOf(donor.baseDir)}`, '--user=root'] },
      { argv: ['socat', '-u', 'STDIN', `TCP:127.0.0.1:${streamPort},retry=100,interval=0.1`] },
    ],
    null,
  );
  await Promise.all([send, receive]);
  ph.mark('backup --galera-info | socat => socat | mbstream -x');
  await run(['mariadb-backup', '--no-defaults', '--prepare', `--target-dir=${data}`]);
  ph.mark('prepare');
  const info = ['xtrabackup_galera_info', 'mariadb_backup_galera_info'].map((f) => path.join(data, f)).find(existsSync);
  const m = info ? /^([0-9a-f-]{36}):(-?\d+)/.exec(readFileSync(info, 'utf8').trim()) : null;
  if (!m) throw new Error(`no uuid:seqno in the backup's galera info (${info ?? 'no xtrabackup_galera_info'})`);
  writeFileSync(path.join(data, 'grastate.dat'), `# GALERA saved state\nversion: 2.1\nuuid:    ${m[1]}\nseqno:   ${m[2]}\nsafe_to_bootstrap: 0\n`, { mode: 0o660 });
  await run(['chown', '-R', 'mysql:mysql', dir]);
  ph.mark('grastate.dat, chown');
  const daemon = startDaemon(td, ['mariadbd', `--defaults-file=${cnf}`, '--user=mysql'], { log });
  await until(
    'the by-hand member to be Synced',
    async () => {
      const out = await mariadbSql(socket, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_size','wsrep_cluster_status')").catch(() => '');
      const v = new Map(out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
      return v.get('wsrep_local_state_comment') === 'Synced' && v.get('wsrep_cluster_status') === 'Primary' && Number(v.get('wsrep_cluster_size')) === donor.sizeAfter ? true : undefined;
    },
    600_000,
    200,
  );
  ph.mark('mariadbd start, join, Synced');
  const text = readFileSync(log, 'utf8');
  const transfer = /Receiving IST|IST received/.test(text) ? 'IST' : /SST received|Proceeding with SST/.test(text) ? 'SST (the by-hand copy was not used!)' : 'no state transfer needed';
  return { seconds: ph.seconds, phases: ph.text, socket, daemon, transfer };
}
