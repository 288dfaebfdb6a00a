// The MySQL family's ReplicationCapability: GTID replication between
// instances, over TLS verified against the deployment's CA. The SQL of each
// server is in dialect.ts (MariaDB runs here; Oracle MySQL's is written
// behind the same interface); positions are compared in gtid.ts; read-only
// fencing is read-only.ts; account names are names.ts.
//
// What the agent writes locally (replication accounts, read-only fences,
// its own account) goes with sql_log_bin = 0: a replica that logged them
// would hold transactions its source never had (errant GTIDs), which
// gtid_strict_mode turns into a stopped replica after the next switchover.
import { chmodSync, copyFileSync, renameSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Logger } from '../../../../lib/logger.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import type { ReplicaAccess } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { ConnectedReplica, ReplicationStatus, SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import type { CompiledAgentConfig } from '../../../config.js';
import { AgentError, invalid } from '../../../errors.js';
import type { Layout } from '../../../layout.js';
import type { DatastoreControl, ReplicationCapability } from '../../manager.js';
import { escape, type SqlClient } from '../sql-client.js';
import { dialectForVersion, type MysqlDialect, type ReplicaThreads, type Statement } from './dialect.js';
import { mariadbAhead, mariadbPending, notationOf, parseMariadbPosition, parseMysqlGtidSet, reached } from './gtid.js';
import { IDENTIFIED_BY_HASH, nativePasswordHash } from '../password-hash.js';
import { checkReplicationPassword, checkReplicationUser, replicationUser } from './names.js';
import { isMarkedReadOnly, markReadOnly, revokeReadOnlyAdmin } from './read-only.js';
import { removeStaleReplicaState } from './stale-state.js';
import { endSessionsOf } from '../end-sessions.js';

export interface MysqlReplicationDeps {
  /** The flavor has no incremental backups (no physical tool here): snapshots are full. */
  readonly fullSnapshotsOnly: boolean;
  readonly sql: SqlClient;
  readonly log: Logger;
  readonly config: CompiledAgentConfig;
  readonly layout: Layout;
  /** Renders the option file again (it reads the read-only marker). */
  readonly rerenderConfig: () => Promise<void>;
  /** How long attach waits for the replication threads; tests shorten it. */
  readonly attachTimeoutMs?: number;
}

const POLL_MS = 200;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function createMysqlReplication(deps: MysqlReplicationDeps): ReplicationCapability & { readonly caFile: string } {
  const { sql, log, config, layout } = deps;
  const attachTimeoutMs = deps.attachTimeoutMs ?? 120_000;
  const caFile = path.join(layout.etcDir, 'replication-ca.pem');
  let detected: MysqlDialect | null = null;

  const dialect = async (): Promise<MysqlDialect> => {
    if (detected) return detected;
    const v = String((await sql.query('SELECT VERSION() AS v'))[0]?.v ?? '');
    detected = dialectForVersion(v);
    return detected;
  };

  const one = async (q: string): Promise<string> => String((await sql.query(q))[0]?.p ?? '').trim();

  /** Runs statements on one connection without writing to the binary log. */
  const local = <T>(fn: (q: (s: string, v?: unknown[]) => Promise<unknown>) => Promise<T>): Promise<T> => sql.unlogged(fn);

  /**
   * A statement carrying a secret: an error is re-raised without the
   * driver's error object (mysql2 keeps the statement text, password
   * included, in err.sql) and with the secret blanked from the message.
   */
  const withSecret = async <T>(secret: string, fn: () => Promise<T>): Promise<T> => {
    const hidden = [secret, escape(secret).slice(1, -1), nativePasswordHash(secret)];
    try {
      return await fn();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // Raw, as the server echoes a statement back (escaped), and hashed.
      let message = String(e?.message ?? err);
      for (const form of hidden) message = message.split(form).join('***');
      throw new AgentError(e instanceof AgentError ? (e.code as AgentError['code']) : 'AGENT_ERR_DATASTORE', message);
    }
  };

  const threads = async (): Promise<ReplicaThreads> => {
    const d = await dialect();
    return d.threads((await sql.query(d.showStatus))[0]);
  };

  const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(cancelled(signal));
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(cancelled(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });

  function checkPosition(position: string, d: MysqlDialect): void {
    if (position === '') return;
    if (d.name === 'mariadb-gtid') {
      if (notationOf(position) !== 'mariadb') throw invalid(`position ${JSON.stringify(position.slice(0, 80))} is a MySQL GTID set; this server takes a MariaDB GTID position (domain-server-seq)`);
      parseMariadbPosition(position);
    } else {
      if (notationOf(position) !== 'mysql') throw invalid(`position ${JSON.stringify(position.slice(0, 80))} is a MariaDB GTID position; this server takes a MySQL GTID set`);
      parseMysqlGtidSet(position);
    }
  }

  function checkSource(source: SourceInfo | undefined): SourceInfo {
    if (!source) throw invalid('the source to follow is missing');
    const host = source.host ?? '';
    if (!host) throw invalid('the source host is empty');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) throw invalid(`source host ${JSON.stringify(host.slice(0, 80))} is neither an IP address nor a host name`);
    if (!Number.isInteger(source.port) || source.port < 1 || source.port > 65535) throw invalid(`source port ${source.port} is not 1-65535`);
    checkReplicationUser(source.replicationUser ?? '');
    checkReplicationPassword(source.replicationPassword ?? '');
    if ((source.position ?? '').length > 4096) throw invalid('the source position is longer than 4096 characters');
    return source;
  }

  /** The deployment CA, where the server's OS user can read it (MASTER_SSL_CA is read by the server). */
  function installCa(): string {
    const ca = config.datastoreCa;
    if (!ca) {
      throw new AgentError('AGENT_ERR_NOT_READY', 'replication needs the deployment CA to verify the source (the agent runs without --tls-ca)');
    }
    const tmp = `${caFile}.tmp`;
    copyFileSync(ca, tmp);
    chmodSync(tmp, 0o644);
    renameSync(tmp, caFile);
    return caFile;
  }

  async function setReadOnly(readOnly: boolean): Promise<void> {
    // Persisted first: a start from here on honours it before any client.
    if (isMarkedReadOnly(layout.agentDir) !== readOnly) {
      markReadOnly(layout.agentDir, readOnly);
      await deps.rerenderConfig();
    }
    let d: MysqlDialect;
    try {
      d = await dialect();
      for (const s of d.readOnly(readOnly)) await sql.query(s.sql, s.values);
    } catch (err) {
      // Stopped: the option file carries it to the next start.
      if (err instanceof AgentError && err.code === 'AGENT_ERR_NOT_READY') return;
      throw err;
    }
    if (!readOnly || d.name !== 'mariadb-gtid') return;
    const taken = await revokeReadOnlyAdmin(sql, log);
    // A session keeps the privileges it logged in with: end those of the
    // accounts just stripped, so none of them writes on.
    await endSessionsOf(sql, log, [...new Set(taken.filter((a) => a.includes('@')).map((a) => a.slice(0, a.lastIndexOf('@'))))]);
  }

  /** Stops replication threads; fine when none are configured. */
  async function stopReplica(d: MysqlDialect): Promise<void> {
    await sql.query(d.stop);
  }

  /**
   * Follows the source. Returns the threads once both run, or, with
   * `tolerate` (a demotion), once the source refused what this instance
   * asked for.
   */
  async function follow(source: SourceInfo, signal: AbortSignal, tolerate: boolean): Promise<ReplicaThreads> {
    const d = await dialect();
    checkSource(source);
    checkPosition(source.position ?? '', d);
    const ca = installCa();
    await setReadOnly(true);
    await stopReplica(d);

    // Where to resume: the given position only on a fresh copy (nothing in
    // its binary log: it has applied nothing since its restore, and the
    // position includes what it holds). A replica being re-pointed, or a
    // former source, keeps its own: it may be behind the position it is
    // given (the new source's latest), and jumping there would skip
    // transactions.
    const own = await one(d.latestSql);
    const binlogEmpty = (await one(d.binlogPosSql)) === '';
    const position = source.position ?? '';
    const target = binlogEmpty && position !== '' && reached(own, position) ? position : own;
    const applied = await one(d.appliedSql);
    if (target !== applied || (binlogEmpty && target !== '')) {
      const statements: Statement[] = d.setPosition(target, binlogEmpty);
      await local(async (q) => {
        for (const s of statements) await q(s.sql, s.values);
      });
      log.info({ position: target, fresh: binlogEmpty }, 'replication position set');
    }

    const change = d.changeSource({ host: source.host, port: source.port, user: source.replicationUser, password: source.replicationPassword, caFile: ca });
    await withSecret(source.replicationPassword, () => sql.query(change.sql, change.values));
    await sql.query(d.start);
    log.info({ host: source.host, port: source.port, user: source.replicationUser, sourceInstanceId: source.instanceId, dialect: d.name }, 'replication started');

    const deadline = Date.now() + attachTimeoutMs;
    for (;;) {
      const t = await threads();
      if (t.ioRunning === 'Yes' && t.sqlRunning === 'Yes') return t;
      if (t.sqlRunning === 'No' && t.sqlErrno !== 0) {
        throw new AgentError('AGENT_ERR_DATASTORE', `replication from ${source.host}:${source.port} stopped applying: error ${t.sqlErrno}: ${t.sqlError}`);
      }
      if (t.ioErrno !== 0 && d.fatalIoErrors.has(t.ioErrno)) {
        if (tolerate && t.ioErrno === 1236) return t;
        throw new AgentError('AGENT_ERR_DATASTORE', `the source ${source.host}:${source.port} refused replication: error ${t.ioErrno}: ${t.ioError}`);
      }
      if (Date.now() > deadline) {
        throw new AgentError('AGENT_ERR_TIMEOUT', `replication from ${source.host}:${source.port} did not start within ${Math.round(attachTimeoutMs / 1000)} s (receiving: ${t.ioRunning || 'no'}, applying: ${t.sqlRunning || 'no'}${t.ioError ? `; last error ${t.ioErrno}: ${t.ioError}` : ''})`);
      }
      await sleep(POLL_MS, signal);
    }
  }

  /** Waits until everything received from the source is applied. */
  async function drainRelayLog(d: MysqlDialect, signal: AbortSignal): Promise<void> {
    for (;;) {
      const t = await threads();
      const applied = await one(d.appliedSql);
      if (t.received === '' || reached(t.received, applied)) return;
      if (t.sqlRunning !== 'Yes') {
        throw new AgentError(
          'AGENT_ERR_NOT_READY',
          `cannot promote: transactions received from the source (${t.received}) are not applied (${applied || 'none'}) and the applier is stopped${t.sqlError ? `: error ${t.sqlErrno}: ${t.sqlError}` : ''}`,
        );
      }
      await sleep(POLL_MS, signal);
    }
  }

  const capability = {
    caFile,
    fullSnapshotsOnly: deps.fullSnapshotsOnly,
    // A replica copied straight from the running source (its agent's clone
    // endpoint) where the flavor has its physical tool.
    ...(deps.fullSnapshotsOnly ? {} : { cloneByEndpoint: { strategy: 'mariabackup', tool: 'mariadb-backup' } }),

    async dialect(): Promise<string> {
      return (await dialect()).name;
    },

    async addReplicaAccess(replicas: readonly ReplicaAccess[]): Promise<SourceInfo[]> {
      const seen = new Set<string>();
      const planned = replicas.map((r, i) => {
        const user = replicationUser(r.replicaId ?? '');
        checkReplicationPassword(r.password ?? '');
        if (seen.has(user)) throw invalid(`replica ${r.replicaId} is named twice (entry ${i})`);
        seen.add(user);
        return { user, password: r.password };
      });
      for (const p of planned) {
        await withSecret(p.password, () =>
          local(async (q) => {
            // Made or re-passworded: a retry or a re-point finds it done.
            const hash = nativePasswordHash(p.password);
            await q(`CREATE USER IF NOT EXISTS ?@'%' ${IDENTIFIED_BY_HASH} REQUIRE SSL`, [p.user, hash]);
            await q(`ALTER USER ?@'%' ${IDENTIFIED_BY_HASH} REQUIRE SSL`, [p.user, hash]);
            await q(`GRANT REPLICATION SLAVE ON *.* TO ?@'%'`, [p.user]);
          }),
        );
        log.info({ user: p.user }, 'replication account ready');
      }
      return planned.map((p) => ({ host: '', port: 0, replicationUser: p.user, replicationPassword: '', position: '', instanceId: config.instanceId, slotName: '' }));
    },

    async removeReplicaAccess(replicaId: string): Promise<void> {
      const user = replicationUser(replicaId);
      await local((q) => q(`DROP USER IF EXISTS ?@'%'`, [user]));
      // A replica still streaming with it (a deleted replica's, or one
      // detached while the source was away) is cut off now: dropped, the
      // account cannot log in again.
      const ended = await endSessionsOf(sql, log, [user]);
      log.info({ user, connectionsEnded: ended }, 'replication account removed');
    },

    snapshotPosition(meta: BackupMetadata): string {
      // mariadb-backup's binlog_pos (xtrabackup_info) of THIS element: for an
      // incremental, the increment's own consistency point, which is where
      // the restored chain ends.
      const position = (meta.gtidPosition ?? '').trim();
      if (position === '') return '';
      try {
        if (notationOf(position) === 'mariadb') parseMariadbPosition(position);
        else parseMysqlGtidSet(position);
      } catch (err) {
        throw new AgentError('AGENT_ERR_INTEGRITY', `backup ${meta.backupId} records a GTID position that cannot be read: ${(err as Error).message}`);
      }
      return position;
    },

    async configureBeforeStart(source: SourceInfo): Promise<void> {
      checkSource(source);
      // The copy starts refusing writes, and without replication settings
      // the snapshot's source may have had for its own source.
      markReadOnly(layout.agentDir, true);
      await deps.rerenderConfig();
      const removed = removeStaleReplicaState(layout.dataDir);
      if (removed.length) log.info({ files: removed }, 'removed replication state restored with the snapshot');
    },

    async attach(source: SourceInfo, signal: AbortSignal): Promise<void> {
      await follow(source, signal, false);
    },

    async detach(_signal: AbortSignal): Promise<void> {
      const d = await dialect();
      await stopReplica(d);
      await sql.query(d.resetAll);
      await setReadOnly(false);
      log.info('replication detached: standalone and writable');
    },

    async promote(signal: AbortSignal): Promise<void> {
      const d = await dialect();
      const t = await threads();
      if (t.configured) {
        // Nothing more arrives; what has arrived is applied before writes.
        await sql.query(d.stopIo);
        await drainRelayLog(d, signal);
        await stopReplica(d);
        await sql.query(d.resetAll);
      }
      await setReadOnly(false);
      log.info({ position: await one(d.latestSql) }, 'promoted: writable source');
    },

    async demote(source: SourceInfo, ds: DatastoreControl, signal: AbortSignal): Promise<{ diverged: string }> {
      checkSource(source);
      markReadOnly(layout.agentDir, true);
      await deps.rerenderConfig();
      try {
        await sql.query('SELECT 1');
      } catch (err) {
        if (!(err instanceof AgentError && err.code === 'AGENT_ERR_NOT_READY')) throw err;
        await ds.start(signal); // starts read-only: the marker is in the option file
      }
      const d = await dialect();
      await setReadOnly(true);
      // What this instance had, recorded before it follows anyone. The new
      // source's own position is known only as the control passes it (an
      // agent cannot log in to another instance's SQL); where it is given,
      // what this instance has beyond it is the divergence. Where it is not,
      // the source's answer tells: error 1236 means it lacks what this
      // instance asks for, and this instance's last GTIDs are reported.
      const own = await one(d.binlogPosSql);
      const position = source.position ?? '';
      let diverged = '';
      if (position !== '' && own !== '') {
        checkPosition(position, d);
        diverged = d.name === 'mariadb-gtid' ? mariadbAhead(own, position) : reached(own, position) ? '' : own;
      }
      // A former source resumes from its own history, not the given position.
      const t = await follow({ ...source, position: '' }, signal, true);
      if (t.ioErrno === 1236 && diverged === '') diverged = own;
      if (diverged) log.warn({ diverged, sourceInstanceId: source.instanceId, error: t.ioError }, 'this former source has transactions its new source never received');
      return { diverged };
    },

    setReadOnly,

    async latestTransactionId(): Promise<string> {
      return one((await dialect()).latestSql);
    },

    reached(target: string, current: string): boolean {
      return reached(target, current);
    },

    async status(): Promise<Omit<ReplicationStatus, 'role' | 'fenced'>> {
      const d = await dialect();
      const t = await threads();
      const position = await one(d.latestSql);
      const replicas: ConnectedReplica[] = (
        await sql.query(`SELECT USER AS u, HOST AS h FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' ORDER BY USER`)
      ).map((r) => ({ name: String(r.u ?? ''), address: String(r.h ?? ''), lagBytes: -1 }));
      let lagBytes = -1;
      if (t.configured && d.name === 'mariadb-gtid') {
        try {
          lagBytes = mariadbPending(t.received, await one(d.appliedSql));
        } catch {
          lagBytes = -1;
        }
      }
      const lastError = t.sqlErrno ? `error ${t.sqlErrno}: ${t.sqlError}` : t.ioErrno ? `error ${t.ioErrno}: ${t.ioError}` : '';
      return {
        sourceInstanceId: '',
        sourceHost: t.host,
        sourcePort: t.port,
        lagBytes,
        lagSeconds: t.configured && t.secondsBehind !== null ? t.secondsBehind : -1,
        position,
        streaming: t.ioRunning === 'Yes' && t.sqlRunning === 'Yes',
        lastError,
        dialect: d.name,
        replicas,
        slots: [],
      };
    },
  };
  return capability;
}

function cancelled(signal: AbortSignal): AgentError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'cancelled');
  return new AgentError('AGENT_ERR_CANCELLED', `cancelled: ${reason}`);
}
