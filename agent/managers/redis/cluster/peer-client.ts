// The agent's connections to the cluster's members over their client port,
// as the cluster account (cluster-account.ts: the same user and secret on
// every member). What one agent does to the others' nodes (MEET, SETSLOT,
// MIGRATE, FORGET, the tenant users' copy) goes through these: the agent of
// another member is never called. With TLS (the members serve TLS only),
// the member's certificate is verified against the deployment's CA; like
// Redis 7.0's own tls-cluster links, the chain is checked, not the name.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { ClusterMember } from '../../../../proto/gen/coffer/agent/v1/cluster.js';
import { translate } from '../admin-client.js';
import { parseClusterInfo, parseClusterNodes, type NodeLine } from './cluster-nodes.js';

export interface PeerAuth {
  readonly user: string;
  readonly password: string;
  /** The deployment's CA file when the members serve TLS; undefined: plaintext. */
  readonly caFile?: string;
}

export class Peer {
  /** The node's cluster id (CLUSTER MYID), read at open. */
  id = '';

  private constructor(readonly member: ClusterMember, private readonly redis: Redis) {}

  static async open(member: ClusterMember, auth: PeerAuth, timeoutMs = 3000): Promise<Peer> {
    const redis = new Redis({
      host: member.host,
      port: member.port,
      username: auth.user,
      password: auth.password,
      lazyConnect: true,
      connectionName: 'coffer-agent-cluster',
      connectTimeout: timeoutMs,
      enableReadyCheck: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(auth.caFile ? { tls: { ca: readFileSync(auth.caFile), checkServerIdentity: () => undefined } } : {}),
    });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      const peer = new Peer(member, redis);
      peer.id = String(await redis.call('CLUSTER', 'MYID'));
      return peer;
    } catch (err) {
      redis.disconnect();
      throw translate(err);
    }
  }

  async call(command: string, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.redis.call(command, ...args.map(String));
    } catch (err) {
      throw translate(err);
    }
  }

  /** MULTI/EXEC, as the admin client's (replaceTenantUsers uses either). */
  async transaction(commands: ReadonlyArray<readonly string[]>): Promise<unknown[]> {
    const multi = this.redis.multi();
    for (const [command, ...args] of commands) multi.call(command!, ...args);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await multi.exec();
    } catch (err) {
      throw translate(err);
    }
    if (!results) throw translate(new Error('the transaction was aborted by the server'));
    const failed = results.find(([e]) => e);
    if (failed) throw translate(failed[0]);
    return results.map(([, r]) => r);
  }

  async nodes(): Promise<NodeLine[]> {
    return parseClusterNodes(String(await this.call('CLUSTER', 'NODES')));
  }

  async info(): Promise<Record<string, string>> {
    return parseClusterInfo(String(await this.call('CLUSTER', 'INFO')));
  }

  async myself(): Promise<NodeLine> {
    return (await this.nodes()).find((n) => n.flags.includes('myself'))!;
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** Opens every member; the ones that do not answer (not installed yet, down) are listed apart. */
export async function openPeers(members: readonly ClusterMember[], auth: PeerAuth): Promise<{ peers: Peer[]; missing: ClusterMember[] }> {
  const results = await Promise.allSettled(members.map((m) => Peer.open(m, auth)));
  const peers: Peer[] = [];
  const missing: ClusterMember[] = [];
  results.forEach((r, i) => (r.status === 'fulfilled' ? peers.push(r.value) : missing.push(members[i]!)));
  return { peers, missing };
}

export function closePeers(peers: readonly Peer[]): void {
  for (const p of peers) p.close();
}
