// Where the Redis manager keeps its files under the agent's layout. One place,
// so the config renderer, the lifecycle and the backup agree on every path.
import path from 'node:path';
import type { Layout } from '../../layout.js';

export interface RedisPaths {
  /** The rendered server config (no secrets in it: readable by redis). */
  readonly conf: string;
  /** The admin's unix socket: the agent's only way in. */
  readonly socket: string;
  /**
   * The ACL file. Under etc/ (in a directory redis owns, since ACL SAVE
   * writes a temporary file next to it and renames), not under data/: a
   * restore empties data/ and must not take the accounts (the agent's own
   * among them) with it. An RDB carries no ACLs anyway.
   */
  readonly aclDir: string;
  readonly aclFile: string;
  /** The agent admin's secret, 0600 in the root-only agent dir. */
  readonly secretFile: string;
  /** The configuration overrides in force (0600 JSON). */
  readonly overridesFile: string;
  /** The RDB file the server snapshots to and loads from. */
  readonly dumpFile: string;
  /**
   * Replication settings redis.conf includes last (replicaof, masteruser,
   * masterauth, the write fence): 0600, owned by redis, in the ACL
   * directory, the one only redis and root enter, since masterauth is a
   * secret. Rendered from `replicationState` (replication/replication-conf.ts).
   */
  readonly replicationConf: string;
  /** What replicationConf is rendered from: 0600 JSON in the root-only agent dir. */
  readonly replicationState: string;
}

export const DUMP_NAME = 'dump.rdb';

export function redisPaths(layout: Layout): RedisPaths {
  const aclDir = path.join(layout.etcDir, 'acl');
  return Object.freeze({
    conf: path.join(layout.etcDir, 'redis.conf'),
    socket: path.join(layout.runDir, 'redis.sock'),
    aclDir,
    aclFile: path.join(aclDir, 'users.acl'),
    secretFile: path.join(layout.agentDir, 'admin.secret'),
    overridesFile: path.join(layout.agentDir, 'overrides.json'),
    dumpFile: path.join(layout.dataDir, DUMP_NAME),
    replicationConf: path.join(aclDir, 'replication.conf'),
    replicationState: path.join(layout.agentDir, 'redis-replication.json'),
  });
}
