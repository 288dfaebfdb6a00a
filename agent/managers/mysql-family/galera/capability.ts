// The MySQL family's ClusterCapability: Galera (MariaDB with Debian's
// galera-4). The member's settings are settings.ts, rendered into the one
// option file the manager writes; grastate.dat is grastate.ts; the plan and
// the one-time bootstrap flag persist in <agentDir>/galera.json (no secret).
// The state-transfer password lives in etc/galera-sst.cnf, 0600 and owned
// by the datastore's user, !include'd by the option file.
//
// The node's status is read as the OS root over the socket (unix_socket),
// not through the agent's account: a joiner's accounts are its donor's
// until the agent re-makes its own (the manager's connect), and that must be possible.
import { chownSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { Logger } from '../../../../lib/logger.js';
import type { OsUser } from '../../../../lib/os-user.js';
import { requireProgram } from '../../../../lib/which.js';
import type { ClusterNodeStatus } from '../../../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError } from '../../../errors.js';
import type { Layout } from '../../../layout.js';
import type { ClusterCapability, ClusterPlan } from '../../manager.js';
import { account, escape } from '../sql-client.js';
import { parseRecoveredPosition, readGrastate, writeSafeToBootstrap } from './grastate.js';
import { SST_USER } from './settings.js';

/** gcomm carries the group name (wsrep_cluster_name) in at most 32 characters. */
const GALERA_MAX_CLUSTER_ID = 32;

export interface GaleraDeps {
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly cnfFile: string;
  readonly socket: string;
  readonly mysqlUser: () => OsUser;
  /** Renders the option file again (it reads the plan through plan()). */
  readonly rerenderConfig: () => Promise<void>;
}

interface GaleraState {
  plan: ClusterPlan | null;
  bootstrap: boolean;
}

export interface GaleraCapability extends ClusterCapability {
  /** The plan the option file renders, null when not a member. */
  plan(): ClusterPlan | null;
  readonly sstAuthFile: string;
  /** Statements run as the OS root through the client (status, the SST account): the node's own, never argv-carried secrets. */
  rootQuery(sql: string): Promise<string>;
}

export function createGalera(deps: GaleraDeps): GaleraCapability {
  const { layout, runner, log } = deps;
  const stateFile = path.join(layout.agentDir, 'galera.json');
  const sstAuthFile = path.join(layout.etcDir, 'galera-sst.cnf');
  const read = (): GaleraState => (existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as GaleraState) : { plan: null, bootstrap: false });
  const write = (s: GaleraState): void => {
    const tmp = `${stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, stateFile);
  };

  const client = (): string => requireProgram('the mariadb client', 'mariadb', 'mysql');
  // Statements travel on stdin: nothing of them reaches argv.
  const rootQuery = async (sql: string): Promise<string> => {
    const { stdout } = await runner.run([client(), '--no-defaults', `--socket=${deps.socket}`, '--user=root', '--batch', '--skip-column-names'], { input: sql, timeoutMs: 30_000 });
    return stdout;
  };

  const NOT_RUNNING: ClusterNodeStatus = { state: '', clusterSize: 0, ready: false, primary: false, clusterUuid: '', lastCommitted: 0, running: false, role: '', slots: 0, slotsMigrating: 0 };

  return {
    strategies: ['galera'],
    sstAuthFile,
    plan: () => read().plan,
    rootQuery,
    requiredPorts: () => ['gmcast', 'ist', 'sst'],
    requiredSecrets: () => ['sst'],
    maxClusterIdLength: () => GALERA_MAX_CLUSTER_ID,
    peerPort: () => 'gmcast',

    async configure(plan, secrets, bootstrap): Promise<void> {
      const u = deps.mysqlUser();
      // mariabackup on the donor connects to its own server as this account.
      const tmp = `${sstAuthFile}.tmp`;
      writeFileSync(tmp, `[mysqld]\nwsrep_sst_auth = ${SST_USER}:${secrets.sst}\n`, { mode: 0o600 });
      chownSync(tmp, u.uid, u.gid);
      renameSync(tmp, sstAuthFile);
      write({ plan, bootstrap });
      await deps.rerenderConfig();
    },

    async afterBootstrap(_plan, secrets): Promise<void> {
      // Replicated to every member (wsrep on): the joiners' SST finds it.
      // What mariabackup needs on a 10.11 donor.
      const who = account(SST_USER, 'localhost');
      await rootQuery([
        `CREATE OR REPLACE USER ${who} IDENTIFIED BY ${escape(secrets.sst!)};`,
        `GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO ${who};`,
      ].join('\n'));
    },

    bootstrapPending: () => read().bootstrap,

    async clearBootstrap(): Promise<void> {
      const s = read();
      if (s.bootstrap) write({ ...s, bootstrap: false });
    },

    // The option file only: a running node learns members from the view,
    // and gcomm:// is read only to (re)connect at a start. Setting
    // wsrep_cluster_address live would make the node leave and rejoin: done
    // on every member in turn, a quorum could be lost mid-grow.
    async setMembers(plan): Promise<void> {
      write({ ...read(), plan });
      await deps.rerenderConfig();
    },

    async nodeStatus(): Promise<ClusterNodeStatus> {
      let out: string;
      try {
        out = await rootQuery("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment','wsrep_cluster_size','wsrep_ready','wsrep_cluster_status','wsrep_cluster_state_uuid','wsrep_last_committed');");
      } catch {
        return NOT_RUNNING;
      }
      const v = new Map(out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]).map(([k, val]) => [k.toLowerCase(), val ?? '']));
      return {
        state: v.get('wsrep_local_state_comment') ?? '',
        clusterSize: Number(v.get('wsrep_cluster_size') ?? 0) || 0,
        ready: v.get('wsrep_ready') === 'ON',
        primary: v.get('wsrep_cluster_status') === 'Primary',
        clusterUuid: v.get('wsrep_cluster_state_uuid') ?? '',
        lastCommitted: Number(v.get('wsrep_last_committed') ?? 0) || 0,
        running: true,
        // Galera has no roles or slots: every member is the same.
        role: '',
        slots: 0,
        slotsMigrating: 0,
      };
    },

    serving: (s) => s.running && s.primary && s.ready && s.state === 'Synced',

    async recoveryPosition(signal): Promise<{ clusterUuid: string; seqno: number; safeToBootstrap: boolean; source: string }> {
      const g = readGrastate(layout.dataDir);
      if (!g) throw new AgentError('AGENT_ERR_NOT_READY', `no grastate.dat in ${layout.dataDir}: this node never ran as a Galera member`);
      if (g.seqno >= 0) return { clusterUuid: g.uuid, seqno: g.seqno, safeToBootstrap: g.safeToBootstrap, source: 'grastate' };
      // A crash: InnoDB knows the last write-set it committed.
      const u = deps.mysqlUser();
      const logFile = path.join(layout.logDir, 'wsrep-recover.log');
      rmSync(logFile, { force: true });
      const server = requireProgram('the MariaDB server', 'mariadbd', 'mysqld');
      await runner.run([server, `--defaults-file=${deps.cnfFile}`, '--wsrep-recover', `--log-error=${logFile}`], { uid: u.uid, gid: u.gid, signal, timeoutMs: 300_000 });
      const found = parseRecoveredPosition(existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
      if (!found) throw new AgentError('AGENT_ERR_DATASTORE', `mariadbd --wsrep-recover reported no recovered position (see ${logFile})`);
      log.info({ uuid: found.uuid, seqno: found.seqno }, 'recovered the Galera position');
      return { clusterUuid: found.uuid, seqno: found.seqno, safeToBootstrap: g.safeToBootstrap, source: 'wsrep-recover' };
    },

    async markSafeToBootstrap(): Promise<void> {
      writeSafeToBootstrap(layout.dataDir, true);
      write({ ...read(), bootstrap: true });
    },

    async deconfigure(): Promise<void> {
      write({ plan: null, bootstrap: false });
      rmSync(sstAuthFile, { force: true });
      await deps.rerenderConfig();
    },
  };
}
