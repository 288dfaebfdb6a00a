// The redis.conf lines of one Redis Cluster member, rendered by the manager
// (../redis-conf.ts) before the replication include. Pure: the member in,
// lines out. Every member shares 127.0.0.1 under the local driver, so each
// announces its own host and ports instead of letting Redis guess them.
import { isIP } from 'node:net';
import type { ClusterMember } from '../../../../proto/gen/coffer/agent/v1/cluster.js';

/** The cluster's state file, written by Redis itself: under the data dir, beside the RDB and the AOF. */
export const NODES_CONF = 'nodes.conf';

export interface RedisClusterSettingsInput {
  readonly self: ClusterMember;
  readonly dataDir: string;
  /** The members serve TLS only (the instance has a serving pair and the deployment's CA). */
  readonly tls: boolean;
}

export function redisClusterSettings(input: RedisClusterSettingsInput): string[] {
  const { self, dataDir } = input;
  const bus = self.clusterPorts.bus!;
  for (const v of [dataDir, self.host]) if (/[\s"'\\]/.test(v)) throw new Error(`refusing to render ${JSON.stringify(v)}: it holds spaces, quotes or backslashes`);
  return [
    'cluster-enabled yes',
    `cluster-config-file ${dataDir}/${NODES_CONF}`,
    `cluster-port ${bus}`,
    // What the others and MOVED/ASK redirections name: the member's host
    // and ports as the control gave them.
    ...(isIP(self.host) ? [`cluster-announce-ip ${self.host}`] : [`cluster-announce-hostname ${self.host}`, 'cluster-preferred-endpoint-type hostname']),
    // A member with a serving pair has no plaintext port (port 0): the bus
    // and the redirections must be TLS too (tls-cluster), verified against
    // the deployment's CA (tls-ca-cert-file, rendered with the pair), or
    // redirections would name port 0.
    ...(input.tls ? ['tls-cluster yes', `cluster-announce-tls-port ${self.port}`] : [`cluster-announce-port ${self.port}`]),
    `cluster-announce-bus-port ${bus}`,
  ];
}
