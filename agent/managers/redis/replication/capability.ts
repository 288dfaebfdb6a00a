// The ReplicationCapability of Redis: replicaof with a dedicated ACL user.
// - A source gives replicas access through `coffer-replication`
//   (replication-user.ts); its snapshot is the ordinary RDB backup, and a
//   replica restored from it still does a full resync on REPLICAOF (Redis
//   cannot continue from an RDB restored by hand), which is correct, only
//   slower for large datasets.
// - A replica follows with masteruser/masterauth and `replica-read-only
//   yes`, persisted in the file redis.conf includes (replication-conf.ts)
//   and applied live over the admin socket, never on a command line.
// - A fenced or read-only source refuses every client's writes, the admin's
//   included, through min-replicas-to-write beyond any replica count
//   (NOREPLICAS), persisted so a restart honours it before any client.
// - TLS: an instance with the datastore's serving pair serves only TLS on
//   its port (../redis-conf.ts), so a plaintext connection, the
//   replication user's included, finds no listener; its replica connects
//   with `tls-replication yes` and verifies the source's certificate
//   against the deployment's CA (Redis 7.0 checks the chain, not the name).
//   Without a serving pair both ends are plaintext, as before.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../../lib/logger.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import type { ReplicaAccess } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { AgentError, invalid } from '../../../errors.js';
import type { DatastoreControl, ReplicationCapability } from '../../manager.js';
import { pingOnce, type AdminClient, type AdminClientOptions } from '../admin-client.js';
import { REPLICATION_USER } from '../names.js';
import { CONF_UNSAFE, FENCE_MAX_LAG, FENCE_MIN_REPLICAS, type ReplicationConf } from './replication-conf.js';
import { ownOffset, parseOffset, statusFromInfo } from './replication-info.js';
import { ensureReplicationUser } from './replication-user.js';

export interface RedisReplicationDeps {
  readonly client: AdminClient;
  readonly admin: () => AdminClientOptions;
  readonly conf: ReplicationConf;
  /**
   * How this instance reaches a source: 'verified' (TLS, the CA at hand),
   * 'off' (no TLS material: plaintext, as its source serves), 'no-ca' (it
   * serves TLS, so its source does, but nothing verifies the source).
   */
  readonly tls: 'verified' | 'off' | 'no-ca';
  readonly log: Logger;
  /** How long attach waits for the link to the source to come up. */
  readonly linkTimeoutMs?: number;
}

const DIALECT = 'redis';

export class RedisReplication implements ReplicationCapability {
  readonly fullSnapshotsOnly = true;

  constructor(private readonly deps: RedisReplicationDeps) {}

  async dialect(): Promise<string> {
    return DIALECT;
  }

  async addReplicaAccess(replicas: readonly ReplicaAccess[]): Promise<SourceInfo[]> {
    for (const r of replicas) checkSecret(r.password, `the password of replica ${r.replicaId}`);
    await ensureReplicationUser(this.deps.client, replicas.map((r) => r.password));
    return replicas.map((r) => ({ host: '', port: 0, replicationUser: REPLICATION_USER, replicationPassword: r.password, position: '', instanceId: '', slotName: '' }));
  }

  /** The user is shared by the deployment's replicas: nothing belongs to one replica alone. */
  async removeReplicaAccess(): Promise<void> {}

  snapshotPosition(meta: BackupMetadata): string {
    return meta.extra?.repl_offset ?? '';
  }

  async configureBeforeStart(source: SourceInfo): Promise<void> {
    this.follow(source);
  }

  async attach(source: SourceInfo, signal: AbortSignal): Promise<void> {
    const { client } = this.deps;
    this.follow(source);
    // ACLs are not replicated: a replica promoted later needs the user too.
    await ensureReplicationUser(client, [source.replicationPassword]);
    await client.call('CONFIG', 'SET', 'masteruser', source.replicationUser, 'masterauth', source.replicationPassword, 'replica-read-only', 'yes');
    await client.call('REPLICAOF', source.host, String(source.port));
    this.deps.log.info({ source: `${source.host}:${source.port}`, tls: this.deps.tls === 'verified' }, 'following the source');
    await this.waitForLink(source, signal);
  }

  async detach(signal: AbortSignal): Promise<void> {
    await this.stopFollowing(signal);
  }

  async promote(signal: AbortSignal): Promise<void> {
    await this.stopFollowing(signal);
  }

  async demote(source: SourceInfo, ds: DatastoreControl, signal: AbortSignal): Promise<{ diverged: string }> {
    if (!(await pingOnce(this.deps.admin()))) {
      // Stopped: it starts as a replica, before any client connects.
      this.follow(source);
      await ds.start(signal);
      await ensureReplicationUser(this.deps.client, [source.replicationPassword]);
      return { diverged: '' };
    }
    const own = ownOffset(await this.deps.client.info('replication'));
    await this.attach(source, signal);
    return { diverged: divergence(own, source.position) };
  }

  async setReadOnly(readOnly: boolean): Promise<void> {
    // Persisted first: a start from now on honours it.
    this.deps.conf.update({ fenced: readOnly });
    if (!(await pingOnce(this.deps.admin()))) return;
    await this.deps.client.call('CONFIG', 'SET', 'min-replicas-max-lag', FENCE_MAX_LAG, 'min-replicas-to-write', readOnly ? FENCE_MIN_REPLICAS : '0');
  }

  async latestTransactionId(): Promise<string> {
    return ownOffset(await this.deps.client.info('replication'));
  }

  reached(target: string, current: string): boolean {
    return parseOffset(current, 'current position') >= parseOffset(target, 'transaction_id');
  }

  async status() {
    return statusFromInfo(await this.deps.client.info('replication'));
  }

  /** Persists whom to follow (the secret only in the 0600 include). */
  private follow(source: SourceInfo): void {
    if (this.deps.tls === 'no-ca') {
      throw new AgentError('AGENT_ERR_NOT_READY', "replication needs the deployment's CA to verify the source (the agent has a datastore serving pair but no datastoreTlsCa or --tls-ca)");
    }
    for (const [v, what] of [[source.replicationUser, 'replication_user'], [source.replicationPassword, 'replication_password'], [source.host, 'host']] as const) {
      if (CONF_UNSAFE.test(v)) throw invalid(`source.${what} may not hold spaces, quotes or backslashes for redis`);
    }
    this.deps.conf.update({
      replicaOf: { host: source.host, port: source.port },
      masterUser: source.replicationUser,
      masterAuth: source.replicationPassword,
    });
  }

  private async stopFollowing(signal: AbortSignal): Promise<void> {
    this.deps.conf.update({ replicaOf: null });
    await this.deps.client.call('REPLICAOF', 'NO', 'ONE');
    for (;;) {
      if ((await this.deps.client.info('replication')).role === 'master') return;
      if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'cancelled while redis stopped following its source');
      await sleep(100);
    }
  }

  /** Until the link is up and the first synchronisation has ended. */
  private async waitForLink(source: SourceInfo, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.deps.linkTimeoutMs ?? 120_000);
    for (;;) {
      const info = await this.deps.client.info('replication');
      if (info.master_link_status === 'up' && info.master_sync_in_progress === '0') return;
      if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'cancelled while waiting for the link to the source');
      if (Date.now() > deadline) {
        throw new AgentError(
          'AGENT_ERR_DATASTORE',
          `redis did not connect to its source ${source.host}:${source.port} as ${source.replicationUser} within ${Math.round((this.deps.linkTimeoutMs ?? 120_000) / 1000)} s ` +
            `(it keeps trying; check the address and the replication password${this.deps.tls === 'verified' ? ", that the source serves TLS with a certificate of the deployment's CA" : ''}, and the server log)`,
        );
      }
      await sleep(200);
    }
  }
}

function checkSecret(secret: string, what: string): void {
  if (CONF_UNSAFE.test(secret)) throw invalid(`${what} may not hold spaces, quotes or backslashes for redis`);
}

/**
 * What a former source had beyond the point the new source took over (its
 * offset when promoted, given as source.position): Redis keeps no ids per
 * write, so this is an offset range, and part of it may be the source's
 * keep-alive pings rather than writes.
 */
function divergence(own: string, newSourcePosition: string): string {
  if (!/^\d+$/.test(newSourcePosition) || !/^\d+$/.test(own)) return '';
  return BigInt(own) > BigInt(newSourcePosition) ? `replication offsets ${BigInt(newSourcePosition) + 1n}-${own} (may include the old source's keep-alive pings)` : '';
}
