// What a VM's agent is told, as it sees it from inside the guest: the boot
// config (lib/boot-config.ts) with the guest's paths and addresses
// (lib/config-drive.ts), and the files the config drive carries to those
// paths. The qemu driver writes the pair onto a config drive; a Nova driver
// would hand Nova the same pair (docs/compute-drivers.md).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BOOT_CONFIG_VERSION, type BootConfig } from '../../lib/boot-config.js';
import {
  DATA_DISK_SERIAL,
  GUEST_AGENT_CONFIG,
  GUEST_AGENT_PORT,
  GUEST_BASE_DIR,
  GUEST_CONDUCTOR_ADDRESS,
  GUEST_CONDUCTOR_PORT,
  GUEST_TLS_DIR,
} from '../../lib/config-drive.js';
import type { AgentBootConfig, Allocation, CertSource } from './driver.js';

/**
 * The guest's boot config. No logFile: under systemd the agent logs to its
 * standard output, which the journal keeps (and the console shows).
 */
export type GuestBootConfig = Omit<BootConfig, 'logFile'>;

/** One file for the guest: where it goes and its bytes. */
export interface GuestFile {
  readonly path: string;
  readonly content: Buffer;
}

export interface GuestConfig {
  readonly boot: GuestBootConfig;
  /** The boot config itself first (GUEST_AGENT_CONFIG), then the certificates and the backup key. */
  readonly files: readonly GuestFile[];
}

/** The data disk as the guest's udev names it. */
export const GUEST_DATA_DEVICE = `/dev/disk/by-id/virtio-${DATA_DISK_SERIAL}`;

/**
 * The agent's base dir in the guest, and the data volume's mount point: a
 * directory under GUEST_BASE_DIR rather than GUEST_BASE_DIR itself. The
 * agent's unit may write GUEST_BASE_DIR only (ReadWritePaths, which
 * systemd makes a bind mount there: the agent would take it for another
 * filesystem on its mount point), and the agent's first mount stages the
 * volume beside the mount point, which must be writable too.
 */
export const GUEST_VOLUME_DIR = path.posix.join(GUEST_BASE_DIR, 'volume');

const tls = (name: string): string => path.posix.join(GUEST_TLS_DIR, name);

export function guestConfig(a: Allocation, config: AgentBootConfig, certs: CertSource): GuestConfig {
  const files: GuestFile[] = [];
  const place = (from: string, name: string): string => {
    const to = tls(name);
    if (!files.some((f) => f.path === to)) files.push({ path: to, content: readFileSync(from) });
    return to;
  };
  const boot: GuestBootConfig = {
    version: BOOT_CONFIG_VERSION,
    instanceId: config.instanceId,
    // The host forwards its loopback port to this one; nothing else reaches the guest.
    listen: `0.0.0.0:${GUEST_AGENT_PORT}`,
    datastore: config.datastore,
    datastoreVersion: config.datastoreVersion,
    baseDir: GUEST_VOLUME_DIR,
    // Forwarded from the host's loopback on the same number.
    datastorePort: a.datastorePort,
    datastoreBind: '0.0.0.0',
    tlsCert: place(certs.cert, 'instance.crt'),
    tlsKey: place(certs.key, 'instance.key'),
    tlsCa: place(certs.ca, 'ca.crt'),
    datastoreTlsCert: place(certs.datastore.cert, 'datastore.crt'),
    datastoreTlsKey: place(certs.datastore.key, 'datastore.key'),
    ...(certs.datastorePeer ? { datastoreTlsPeerCert: place(certs.datastorePeer.cert, 'datastore-peer.crt'), datastoreTlsPeerKey: place(certs.datastorePeer.key, 'datastore-peer.key') } : {}),
    datastoreTlsCa: certs.datastoreCa ? place(certs.datastoreCa, 'datastore-ca.crt') : tls('ca.crt'),
    logLevel: config.logLevel,
    // QEMU's guest forward relays this address to the conductor on the host.
    controlEndpoint: `${GUEST_CONDUCTOR_ADDRESS}:${GUEST_CONDUCTOR_PORT}`,
    heartbeatSeconds: config.heartbeatSeconds,
    backupKeyFile: place(config.backupKeyFile, 'backup.key'),
    // Local backups stay in the guest, on its data volume: the control's
    // directory is not reachable from a VM (docs/compute-drivers.md).
    backupDir: path.posix.join(GUEST_VOLUME_DIR, 'backups'),
    backup: { defaultStorage: config.backupStorage.defaultStorage, storages: config.backupStorage.storages },
    dataVolume: { devicePath: GUEST_DATA_DEVICE, mountPoint: GUEST_VOLUME_DIR },
  };
  return { boot, files: [{ path: GUEST_AGENT_CONFIG, content: Buffer.from(`${JSON.stringify(boot, null, 2)}\n`) }, ...files] };
}
