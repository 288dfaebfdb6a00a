// The qemu-system-x86_64 command line of one instance's VM, built from a
// plain description so that it can be read (and tested) without starting
// anything. The qemu driver runs it through lib/process-runner.ts.
//
// What the VM gets:
// - its root disk: a qcow2 overlay on the deployment's base image;
// - its data disk (raw, the volume's size) with the virtio serial
//   lib/config-drive.ts names, so the guest finds it as
//   /dev/disk/by-id/virtio-coffer-data; block_resize grows it by node name;
// - the config drive as an IDE cdrom, which is how Nova's libvirt driver
//   attaches a config drive of format iso9660 on an x86 pc machine;
// - QEMU's user-mode network in restricted mode: the guest reaches nothing
//   but the guest forward to the control's conductor, and the host reaches
//   the guest's agent and datastore through loopback-only host forwards;
// - no display: the serial console goes to a file kept with the instance;
//   QMP on a unix socket; a pid file (locked by QEMU, so a second QEMU for
//   the same instance refuses to start) and -daemonize, so the VM outlives
//   the control like a Nova server outlives nova-compute.
import { DATA_DISK_SERIAL, GUEST_AGENT_PORT, GUEST_CONDUCTOR_ADDRESS, GUEST_CONDUCTOR_PORT } from '../../lib/config-drive.js';

/** Block node names, as QMP (block_resize) refers to them. */
export const ROOT_NODE = 'root';
export const DATA_NODE = 'data';
export const CONFIG_NODE = 'config';

export interface VmSpec {
  /** The instance id (the VM's name). */
  readonly name: string;
  readonly vcpus: number;
  readonly ramMb: number;
  /** The qcow2 overlay (root disk), the raw data disk, the config drive ISO. */
  readonly rootDisk: string;
  readonly dataDisk: string;
  readonly configDrive: string;
  /** The serial console's file, the QMP socket, the pid file. */
  readonly consoleLog: string;
  readonly qmpSocket: string;
  readonly pidFile: string;
  /** Host loopback port forwarded to the agent's port in the guest. */
  readonly agentPort: number;
  /** The datastore's port: the same on the host's loopback and in the guest. */
  readonly datastorePort: number;
  /** The control's conductor port on the host's loopback. */
  readonly conductorPort: number;
  /**
   * The program QEMU runs for each connection the guest opens to the
   * conductor's guest address: it gets the connection as stdin/stdout and
   * relays it to the conductor (socat). QEMU splits it on spaces.
   */
  readonly relay: readonly string[];
  /** Try KVM first (falls back to TCG when KVM cannot start); false: TCG only. */
  readonly kvm: boolean;
}

export class VmSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmSpecError';
  }
}

// QEMU's option syntax separates keys with commas (a literal comma is
// doubled) and the relay command is split on spaces: paths here are the
// control's own, so anything odd in them is refused rather than escaped.
const SAFE_PATH = /^\/[A-Za-z0-9._\-/]+$/;

function checkPath(what: string, p: string): string {
  if (!SAFE_PATH.test(p)) throw new VmSpecError(`${what} "${p}" cannot go on a QEMU command line: use an absolute path of letters, digits, ".", "_", "-" and "/"`);
  return p;
}

function checkPort(what: string, p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new VmSpecError(`${what} must be a TCP port (1-65535), got ${p}`);
  return p;
}

/** The -netdev value: restricted user-mode networking with exactly the three forwards. */
export function netdevOption(spec: Pick<VmSpec, 'agentPort' | 'datastorePort' | 'conductorPort' | 'relay'>): string {
  for (const word of spec.relay) {
    if (!/^[A-Za-z0-9._\-/:]+$/.test(word)) throw new VmSpecError(`the guest forward relay's word "${word}" cannot go on a QEMU command line (no spaces, commas or quotes)`);
  }
  return [
    'user',
    'id=n0',
    // The guest cannot reach the host or anything beyond it; forwards set
    // here are the only ways in and out.
    'restrict=on',
    `hostfwd=tcp:127.0.0.1:${checkPort('the agent port', spec.agentPort)}-:${GUEST_AGENT_PORT}`,
    `hostfwd=tcp:127.0.0.1:${checkPort('the datastore port', spec.datastorePort)}-:${spec.datastorePort}`,
    // cmd: runs the relay per connection, so every connection the agent
    // opens (gRPC reconnects) reaches the conductor; a tcp: chardev would
    // be one stream opened once, when QEMU starts.
    `guestfwd=tcp:${GUEST_CONDUCTOR_ADDRESS}:${GUEST_CONDUCTOR_PORT}-cmd:${[...spec.relay, `TCP:127.0.0.1:${checkPort('the conductor port', spec.conductorPort)}`].join(' ')}`,
  ].join(',');
}

export function qemuArgv(qemu: string, spec: VmSpec): string[] {
  if (!/^[a-z0-9-]+$/.test(spec.name)) throw new VmSpecError(`instance id "${spec.name}" is not allowed as a VM name`);
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) throw new VmSpecError(`vcpus must be a whole number of at least 1, got ${spec.vcpus}`);
  if (!Number.isInteger(spec.ramMb) || spec.ramMb < 256) throw new VmSpecError(`a VM needs at least 256 MB of RAM, the flavor gives ${spec.ramMb}`);
  const file = (node: string, path: string, readOnly = false) =>
    `driver=file,node-name=${node}-file,filename=${checkPath(`the ${node} disk`, path)}${readOnly ? ',read-only=on' : ''}`;
  return [
    qemu,
    '-name',
    `coffer-${spec.name}`,
    '-nodefaults',
    '-no-user-config',
    // KVM when the host has it, else TCG: QEMU tries them in this order.
    ...(spec.kvm ? ['-accel', 'kvm', '-accel', 'tcg'] : ['-accel', 'tcg']),
    '-machine',
    'pc',
    // Every feature the accelerator can give (KVM: the host's; TCG: all it emulates).
    '-cpu',
    'max',
    '-smp',
    String(spec.vcpus),
    '-m',
    `${spec.ramMb}M`,
    '-display',
    'none',
    '-chardev',
    `file,id=console,path=${checkPath('the console log', spec.consoleLog)}`,
    '-serial',
    'chardev:console',
    '-chardev',
    `socket,id=qmp,path=${checkPath('the QMP socket', spec.qmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-blockdev',
    file(ROOT_NODE, spec.rootDisk),
    '-blockdev',
    `driver=qcow2,node-name=${ROOT_NODE},file=${ROOT_NODE}-file`,
    '-device',
    `virtio-blk-pci,drive=${ROOT_NODE},bootindex=0`,
    '-blockdev',
    file(DATA_NODE, spec.dataDisk),
    '-blockdev',
    `driver=raw,node-name=${DATA_NODE},file=${DATA_NODE}-file`,
    '-device',
    `virtio-blk-pci,drive=${DATA_NODE},serial=${DATA_DISK_SERIAL}`,
    '-blockdev',
    file(CONFIG_NODE, spec.configDrive, true),
    '-blockdev',
    `driver=raw,node-name=${CONFIG_NODE},file=${CONFIG_NODE}-file,read-only=on`,
    '-device',
    `ide-cd,drive=${CONFIG_NODE},bus=ide.1`,
    '-netdev',
    netdevOption(spec),
    '-device',
    'virtio-net-pci,netdev=n0',
    // An entropy source: a guest's first boot otherwise waits for the
    // kernel's random pool before TLS can start.
    '-object',
    'rng-random,id=rng0,filename=/dev/urandom',
    '-device',
    'virtio-rng-pci,rng=rng0',
    '-pidfile',
    checkPath('the pid file', spec.pidFile),
    '-daemonize',
  ];
}
