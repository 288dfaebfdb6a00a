// The config drive: how a VM's agent learns what it is, laid out the way
// OpenStack Nova writes one, so one image boots under Coffer's qemu driver
// and under Nova (docs/compute-drivers.md). The control's qemu driver
// writes it (control/compute/), the image's first-boot unit reads it
// (images/, systemd/). Both use these names, so they cannot drift.
//
// Layout of the ISO 9660 volume (Joliet and Rock Ridge), labelled config-2:
//   openstack/latest/meta_data.json   the MetaData below
//   openstack/content/0000 ...        one file per entry of MetaData.files
// The first-boot unit copies each listed file to its `path` in the guest,
// root-owned, mode 0600, then the agent starts with GUEST_AGENT_CONFIG.
// Only paths under /etc/coffer/ are accepted (anything else refuses the
// whole drive), content_path must be /content/NNNN, and the drive is read
// with xorriso, so it must be ISO 9660 (not Nova's vfat variant).
//
// The agent.json on a drive, as the image's units expect it: listen
// "0.0.0.0:8790" (GUEST_AGENT_PORT); controlEndpoint
// "10.0.2.100:8791"; baseDir GUEST_BASE_DIR (the only path the agent's unit
// may write); tls* paths under GUEST_TLS_DIR; and no logFile, so the agent
// logs to stdout, which its unit sends to the journal and the serial
// console (the control's view of a failed boot). The certificate must be
// the instance's own (CN and DNS name = instanceId): with a controlEndpoint
// the agent refuses any other, exit status 2, one line on the console.

/** The volume label Nova gives a config drive (cloud-init looks for it too). */
export const CONFIG_DRIVE_LABEL = 'config-2';
export const META_DATA_PATH = 'openstack/latest/meta_data.json';
/** content_path values are relative to openstack/ and start with a slash, as Nova writes them. */
export const CONTENT_DIR = 'openstack/content';

/** Where things are inside a guest booted from a Coffer image. */
export const GUEST_AGENT_CONFIG = '/etc/coffer/agent.json';
export const GUEST_TLS_DIR = '/etc/coffer/tls';
/** The agent's base dir in the guest: on the data volume's mount point. */
export const GUEST_BASE_DIR = '/var/lib/coffer';
/** The agent's gRPC port inside the guest (the driver forwards a host loopback port to it). */
export const GUEST_AGENT_PORT = 8790;
/**
 * The address a guest reaches the control's conductor on: QEMU user-mode
 * networking's guestfwd maps it to the conductor on the host's loopback.
 */
export const GUEST_CONDUCTOR_ADDRESS = '10.0.2.100';
export const GUEST_CONDUCTOR_PORT = 8791;
/** The data disk's virtio serial: it appears in the guest as /dev/disk/by-id/virtio-<serial>. */
export const DATA_DISK_SERIAL = 'coffer-data';

export interface MetaDataFile {
  /** Absolute path in the guest. */
  readonly path: string;
  /** "/content/NNNN", relative to openstack/. */
  readonly content_path: string;
}

/** openstack/latest/meta_data.json, the subset of Nova's fields Coffer writes and reads. */
export interface MetaData {
  /** The instance id (Nova: the server's uuid). */
  readonly uuid: string;
  readonly name: string;
  readonly hostname: string;
  readonly project_id: string;
  readonly availability_zone?: string;
  /** Free-form key/values (Nova: server metadata); Coffer puts coffer_format here. */
  readonly meta: Readonly<Record<string, string>>;
  readonly files: readonly MetaDataFile[];
}

/** The files' content names, in order: 0000, 0001, ... */
export function contentPath(index: number): string {
  return `/content/${String(index).padStart(4, '0')}`;
}
