// The compute driver interface: what the control needs from whatever runs
// instances (the local driver here; libvirt/QEMU, Nova and Kubernetes are
// planned in docs/compute-drivers.md). Every method is idempotent by
// instance id, because the task engine re-runs a step after a restart.
import type { BootConfig } from '../../lib/boot-config.js';
import type { DeploymentStorage } from '../backup-storage.js';

/**
 * What the control decides about an instance wherever it runs (Trove's
 * guest_info). A driver adds where things are (addresses, paths) and
 * delivers the whole as the agent's boot config (lib/boot-config.ts), whose
 * fields these are.
 */
export type AgentBootConfig = Pick<BootConfig, 'instanceId' | 'datastore' | 'datastoreVersion' | 'controlEndpoint' | 'heartbeatSeconds' | 'logLevel'> & {
  /**
   * The instance's project's backup wrapping key (a 0600 file the control
   * derived, control/backup-keys.ts), copied to the agent, never the
   * deployment's master or older key: a backup restores into any instance
   * of its project and no other. And the deployment's local backup storage.
   */
  readonly backupKeyFile: string;
  readonly backupDir: BootConfig['backupDir'];
  /** Where new backups go, and the settings (with credentials) of the remote stores. */
  readonly backupStorage: DeploymentStorage;
};

/** The instance's certificate files as the CA wrote them (copied in by injectConfig). */
export interface CertSource {
  /** The agent's identity pair: root-only wherever it is placed. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  /** The datastore's serving pair, which the datastore's OS user reads. */
  readonly datastore: { readonly cert: string; readonly key: string };
  /** The datastore's pair towards its peers (clientAuth only: Redis Cluster's bus); instances issued before it have none. */
  readonly datastorePeer?: { readonly cert: string; readonly key: string };
  /** The CA that signs every datastore's serving certificate (a replica verifies its source with it). */
  readonly datastoreCa?: string;
}

/** Where things are, once allocated. Kept with the instance record (JSON). */
export interface Allocation {
  /** HOST:PORT of the agent's gRPC server. */
  readonly agentAddress: string;
  /** Where clients reach the datastore. */
  readonly datastoreHost: string;
  readonly datastorePort: number;
  /** Driver-specific details (a directory, a domain name, a pod). */
  readonly details: Readonly<Record<string, string | number>>;
  /**
   * A cluster member's own cluster ports by name (docs/clusters.md "Ports":
   * galera gmcast, ist, sst; redis-cluster bus), reachable on
   * datastoreHost. Absent for an instance that is no cluster's member.
   */
  readonly clusterPorts?: Readonly<Record<string, number>>;
}

export interface ResourceRequest {
  readonly vcpus: number;
  readonly ramMb: number;
  readonly volumeGb: number;
  /**
   * A cluster member's named cluster ports (the strategy's names): the
   * driver reserves one port per name, beside the client port, kept in the
   * allocation's clusterPorts. An allocation that lacks some gets them.
   */
  readonly clusterPorts?: readonly string[];
}

/**
 * - running: the agent process (VM, pod) runs.
 * - stopped: allocated but not running.
 * - missing: nothing allocated for this id.
 */
export type ComputeStatus = 'running' | 'stopped' | 'missing';

export interface ComputeDriver {
  readonly name: string;
  /** Reserves what the instance needs (ports, directory, volume). Same id, same answer. */
  allocate(instanceId: string, resources: ResourceRequest, existing: Allocation | null): Promise<Allocation>;
  /** Places the agent's configuration and certificates where the agent reads them. */
  injectConfig(instanceId: string, allocation: Allocation, config: AgentBootConfig, certs: CertSource): Promise<void>;
  /** Starts the instance (boots the agent). Running already: nothing to do. */
  create(instanceId: string, allocation: Allocation): Promise<void>;
  status(instanceId: string, allocation: Allocation | null): Promise<ComputeStatus>;
  /** Stops the agent (which stops its datastore) and removes everything allocated. */
  delete(instanceId: string, allocation: Allocation | null): Promise<void>;
  /** At control start: take over instances that kept running, restart those that should run. */
  adopt(instances: ReadonlyArray<{ id: string; allocation: Allocation; shouldRun: boolean }>): Promise<void>;

  // What a VM driver adds; the local driver has none of these.

  /** How long create waits for a new instance's agent to answer (a VM boots first). Default 30 s. */
  readonly bootTimeoutMs?: number;
  /** Power-cycles the instance (a VM reboots on the same disks); the restart workflow uses it when the agent does not answer. */
  restart?(instanceId: string, allocation: Allocation): Promise<void>;
  /** Grows the instance's data volume to volumeGb (live); the agent's ResizeFilesystem grows its filesystem after. */
  resizeVolume?(instanceId: string, allocation: Allocation, volumeGb: number): Promise<void>;
  /** The last lines of the instance's console, for the fault of a boot that failed or timed out. */
  consoleTail?(instanceId: string): string;
  /** The console's line saying the agent will not start (so waiting longer is pointless), or null. */
  bootFailure?(instanceId: string): string | null;
}
