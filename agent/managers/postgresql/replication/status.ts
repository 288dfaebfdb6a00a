// What replication looks like from this server, by role.
//
// A standby's lag is measured the way CloudNativePG does (#1814, #2003):
// bytes received but not replayed, and seconds since the last replayed
// commit only while there is WAL left to replay; caught up is 0, so the
// figure never grows on an idle system where no commit arrives to replay.
// A primary lists the replicas streaming from it (pg_stat_replication) and
// the replicas' slots with the WAL each holds back.
import type { ReplicationStatus } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import type { PgClient } from '../pg-client.js';
import type { FollowedSource } from './settings.js';

type Status = Omit<ReplicationStatus, 'role' | 'fenced'>;

const num = (v: unknown, fallback: number): number => (v === null || v === undefined ? fallback : Number(v));

export async function standbyStatus(sql: PgClient, source: FollowedSource | null): Promise<Status> {
  const [r] = await sql.query(
    `SELECT pg_last_wal_replay_lsn()::text AS replay,
            GREATEST(pg_last_wal_receive_lsn() - pg_last_wal_replay_lsn(), 0)::bigint AS lag,
            CASE WHEN pg_last_wal_receive_lsn() IS NULL THEN NULL
                 WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
                 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds,
            w.status, w.sender_host, w.sender_port
       FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true`,
  );
  const status = r?.status === null || r?.status === undefined ? '' : String(r.status);
  return {
    sourceInstanceId: source?.instanceId ?? '',
    sourceHost: source?.host ?? String(r?.sender_host ?? ''),
    sourcePort: source?.port ?? num(r?.sender_port, 0),
    lagBytes: num(r?.lag, -1),
    lagSeconds: Math.max(num(r?.lag_seconds, -1), -1),
    position: String(r?.replay ?? ''),
    streaming: status === 'streaming',
    lastError: status === 'streaming' ? '' : status ? `the WAL receiver is ${status}` : 'not receiving from the source (no WAL receiver is running: the source cannot be reached, or refused the connection)',
    dialect: 'pg-streaming',
    replicas: [],
    slots: [],
  };
}

export async function primaryStatus(sql: PgClient): Promise<Status> {
  const [pos] = await sql.query('SELECT pg_current_wal_lsn()::text AS lsn');
  const replicas = await sql.query(
    `SELECT application_name, COALESCE(client_addr::text, '') AS address,
            COALESCE((pg_current_wal_lsn() - replay_lsn)::bigint, -1) AS lag
       FROM pg_stat_replication ORDER BY application_name`,
  );
  const slots = await sql.query(
    `SELECT slot_name, active, COALESCE((pg_current_wal_lsn() - restart_lsn)::bigint, 0) AS retained
       FROM pg_replication_slots
      WHERE slot_type = 'physical' AND NOT temporary AND slot_name ~ '^coffer_[0-9a-f]{32}$'
      ORDER BY slot_name`,
  );
  return {
    sourceInstanceId: '',
    sourceHost: '',
    sourcePort: 0,
    lagBytes: 0,
    lagSeconds: 0,
    position: String(pos?.lsn ?? ''),
    streaming: false,
    lastError: '',
    dialect: 'pg-streaming',
    replicas: replicas.map((r) => ({ name: String(r.application_name), address: String(r.address), lagBytes: num(r.lag, -1) })),
    slots: slots.map((s) => ({ name: String(s.slot_name), active: s.active === true, retainedBytes: num(s.retained, 0) })),
  };
}
