// The wsrep settings of one Galera member, rendered into the server's
// option file (../my-cnf.ts) beside the replication ones. Pure: the member
// list in, option lines out. The state-transfer password is not here: it
// lives in a 0600 file of its own (sst-secret.ts) that the option file
// includes, readable only by the datastore's OS user.
import type { ClusterPlan } from '../../manager.js';

/** Where the Debian package galera-4 puts the provider. */
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

/** The state-transfer account (the same on every member: SST copies the donor's accounts). */
export const SST_USER = 'coffer_sst';

export interface GaleraSettingsInput {
  readonly plan: ClusterPlan;
  /** The 0600 option file carrying wsrep_sst_auth, !include'd. */
  readonly sstAuthFile: string;
  /** gcache.size: the write-sets kept for IST to a node that comes back. */
  readonly gcacheSize?: string;
}

const endpoint = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** gcomm:// with every member's group-communication endpoint (this one included: harmless, and the same list on every node). */
export function clusterAddress(plan: ClusterPlan): string {
  return 'gcomm://' + plan.members.map((m) => endpoint(m.host, m.clusterPorts.gmcast!)).join(',');
}

export function galeraSettings(input: GaleraSettingsInput): string[] {
  const { plan } = input;
  const self = plan.self;
  const ports = self.clusterPorts;
  const options = [
    `gmcast.listen_addr=tcp://${endpoint(self.host, ports.gmcast!)}`,
    `ist.recv_addr=${endpoint(self.host, ports.ist!)}`,
    `gcache.size=${input.gcacheSize ?? '128M'}`,
    // No automatic restore of the last primary component when its members
    // come back from a full outage: the control recovers, from the most
    // advanced node only (docs/clusters.md), one path instead of two racing.
    'pc.recovery=FALSE',
  ].join(';');
  return [
    'wsrep_on = ON',
    `wsrep_provider = ${GALERA_PROVIDER}`,
    `wsrep_cluster_name = ${plan.clusterId}`,
    `wsrep_cluster_address = ${clusterAddress(plan)}`,
    `wsrep_node_name = ${self.instanceId}`,
    `wsrep_node_address = ${endpoint(self.host, ports.gmcast!)}`,
    `wsrep_node_incoming_address = ${endpoint(self.host, self.port)}`,
    `wsrep_provider_options = "${options}"`,
    `wsrep_sst_receive_address = ${endpoint(self.host, ports.sst!)}`,
    'wsrep_sst_method = mariabackup',
    // Galera certifies row events: statement or mixed logging would not
    // replicate; interleaved auto-increment locks are what parallel
    // appliers need; only InnoDB tables replicate.
    'binlog_format = ROW',
    'innodb_autoinc_lock_mode = 2',
    'default_storage_engine = InnoDB',
    // GTIDs of cluster writes are the cluster's, not each node's: one
    // domain for every member (wsrep_gtid_mode), so a member's binary log
    // can feed an asynchronous replica and point-in-time recovery. The
    // per-node gtid_domain_id and server_id stay the instance's own (writes
    // made with wsrep off stay apart). gtid_strict_mode is off in a
    // cluster: the members' binary logs interleave write-sets from every
    // node's server_id in certification order, which strict mode rejects.
    'wsrep_gtid_mode = ON',
    `wsrep_gtid_domain_id = ${gtidDomainOf(plan.clusterId)}`,
    'gtid_strict_mode = OFF',
    `!include ${input.sstAuthFile}`,
  ];
}

/** One domain id per cluster, stable, away from 0 (the default domain of standalone instances). */
export function gtidDomainOf(clusterId: string): number {
  let h = 0;
  for (const c of clusterId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return 1 + (h % 0xfffffffe);
}
