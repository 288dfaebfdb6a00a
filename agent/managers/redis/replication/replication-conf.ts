// Redis's replication settings as the agent persists them, so a restart
// (the supervisor's after a crash, the agent's at boot) comes back as it
// was: following its source, and refusing writes while fenced. The state is
// 0600 JSON in the root-only agent dir; from it the agent renders the file
// redis.conf includes last (0600, owned by redis: it holds masterauth).
// Redis never rewrites either (no CONFIG REWRITE); live changes are the same
// values sent with CONFIG SET / REPLICAOF over the admin socket.
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { OsUser } from '../../../../lib/os-user.js';

/**
 * Writes are refused by requiring more connected replicas than a set can
 * have: Redis then answers every client's write, the agent's admin and
 * scripts included, with NOREPLICAS. Only a source applies it (a replica
 * refuses writes anyway); the fence is honest as long as this number is out
 * of reach, which 2^31-1 replicas are.
 */
export const FENCE_MIN_REPLICAS = '2147483647';
/** min-replicas-to-write counts only with a lag bound (0 turns the check off). */
export const FENCE_MAX_LAG = '10';

export interface RedisReplicationState {
  /** The source followed, or null for a source or standalone. */
  replicaOf: { host: string; port: number } | null;
  /** The replication account and its secret, used to reach the source. */
  masterUser: string;
  masterAuth: string;
  /** Refuse writes (a fenced or read-only source). */
  fenced: boolean;
}

const INITIAL: RedisReplicationState = { replicaOf: null, masterUser: '', masterAuth: '', fenced: false };

/** Characters that would need escaping in redis.conf: refused rather than escaped. */
export const CONF_UNSAFE = /[\s"'\\]/;

export function renderReplicationConf(s: RedisReplicationState): string {
  for (const v of [s.masterUser, s.masterAuth, s.replicaOf?.host ?? '']) {
    if (CONF_UNSAFE.test(v)) throw new Error('refusing to render a replication setting with spaces, quotes or backslashes');
  }
  const lines = [
    '# Rendered by coffer-agent from its replication state; do not edit.',
    'replica-read-only yes',
    `min-replicas-max-lag ${FENCE_MAX_LAG}`,
    `min-replicas-to-write ${s.fenced ? FENCE_MIN_REPLICAS : '0'}`,
  ];
  if (s.masterUser) lines.push(`masteruser "${s.masterUser}"`);
  if (s.masterAuth) lines.push(`masterauth "${s.masterAuth}"`);
  lines.push(s.replicaOf ? `replicaof ${s.replicaOf.host} ${s.replicaOf.port}` : 'replicaof no one');
  return lines.join('\n') + '\n';
}

export class ReplicationConf {
  private current: RedisReplicationState;

  constructor(
    private readonly stateFile: string,
    private readonly confFile: string,
    private readonly redisUser: () => OsUser,
  ) {
    this.current = existsSync(stateFile) ? { ...INITIAL, ...(JSON.parse(readFileSync(stateFile, 'utf8')) as Partial<RedisReplicationState>) } : { ...INITIAL };
  }

  get(): Readonly<RedisReplicationState> {
    return this.current;
  }

  /** Persists the state and renders the included file (both atomically). */
  update(patch: Partial<RedisReplicationState>): Readonly<RedisReplicationState> {
    const next = { ...this.current, ...patch };
    const text = renderReplicationConf(next);
    write(this.stateFile, JSON.stringify(next, null, 2) + '\n', null);
    write(this.confFile, text, this.redisUser());
    this.current = next;
    return next;
  }

  /** Renders the included file if it is missing (redis refuses to start on a missing include). */
  ensure(): void {
    if (!existsSync(this.confFile)) this.update({});
  }
}

function write(file: string, text: string, owner: OsUser | null): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  if (owner) chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, file);
}
