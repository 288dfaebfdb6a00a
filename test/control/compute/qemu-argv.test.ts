// The VM's command line: what the guest can reach and what reaches it
// (restricted user-mode networking with exactly three forwards, host ends
// on loopback only), the disks by the names the guest and QMP use, and
// the refusals of what cannot go on a QEMU command line.
import t from 'tap';
import { netdevOption, qemuArgv, type VmSpec } from '../../../control/compute/qemu-argv.js';

const SPEC: VmSpec = {
  name: '3f2a9c1e-0000-4000-8000-00000000c0de',
  vcpus: 2,
  ramMb: 1024,
  rootDisk: '/d/vms/x/root.qcow2',
  dataDisk: '/d/vms/x/data.raw',
  configDrive: '/d/vms/x/config-2.iso',
  consoleLog: '/d/vms/x/console.log',
  qmpSocket: '/d/vms/x/qmp.sock',
  pidFile: '/d/vms/x/qemu.pid',
  agentPort: 21001,
  datastorePort: 21002,
  conductorPort: 8781,
  relay: ['/usr/bin/socat', 'STDIO'],
  kvm: false,
};

const after = (argv: string[], flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

t.test('the network: restricted, three forwards, loopback on the host', async (t) => {
  t.equal(
    netdevOption(SPEC),
    'user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:21001-:8790,hostfwd=tcp:127.0.0.1:21002-:21002,guestfwd=tcp:10.0.2.100:8791-cmd:/usr/bin/socat STDIO TCP:127.0.0.1:8781',
  );
  t.throws(() => netdevOption({ ...SPEC, agentPort: 0 }), /the agent port must be a TCP port/);
  t.throws(() => netdevOption({ ...SPEC, relay: ['/usr/bin/socat', 'STDIO,fork'] }), /relay's word "STDIO,fork"/);
});

t.test('the machine: flavor, disks, console, QMP, pid file, daemon', async (t) => {
  const argv = qemuArgv('qemu-system-x86_64', SPEC);
  t.equal(argv[0], 'qemu-system-x86_64');
  t.same(after(argv, '-accel'), ['tcg'], 'TCG only when KVM cannot run');
  t.same(after(qemuArgv('q', { ...SPEC, kvm: true }), '-accel'), ['kvm', 'tcg'], 'KVM first, TCG if it fails');
  t.same(after(argv, '-smp'), ['2']);
  t.same(after(argv, '-m'), ['1024M']);
  t.ok(argv.includes('-nodefaults'), 'no default devices (no NIC, no monitor on stdio)');
  const devices = after(argv, '-device');
  t.ok(devices.includes('virtio-blk-pci,drive=data,serial=coffer-data'), 'the data disk carries the serial the guest finds it by');
  t.ok(devices.includes('ide-cd,drive=config,bus=ide.1'), "the config drive is a cdrom, as Nova's libvirt driver attaches an iso9660 one");
  t.ok(devices.includes('virtio-blk-pci,drive=root,bootindex=0'), 'boots from the overlay');
  t.same(after(argv, '-netdev'), [netdevOption(SPEC)]);
  const blockdevs = after(argv, '-blockdev');
  t.ok(blockdevs.includes('driver=raw,node-name=data,file=data-file'), 'block_resize finds the data disk by node name');
  t.ok(blockdevs.some((b) => b.includes('config-2.iso') && b.endsWith('read-only=on')), 'the config drive is read-only');
  t.ok(after(argv, '-chardev').includes('file,id=console,path=/d/vms/x/console.log'), 'the serial console goes to a file');
  t.ok(after(argv, '-chardev').includes('socket,id=qmp,path=/d/vms/x/qmp.sock,server=on,wait=off'));
  t.same(after(argv, '-pidfile'), ['/d/vms/x/qemu.pid']);
  t.equal(argv.at(-1), '-daemonize');
});

t.test('refusals name what is wrong', async (t) => {
  t.throws(() => qemuArgv('q', { ...SPEC, dataDisk: '/d/a,b/data.raw' }), /the data disk "\/d\/a,b\/data.raw" cannot go on a QEMU command line/);
  t.throws(() => qemuArgv('q', { ...SPEC, rootDisk: 'relative.qcow2' }), /the root disk "relative.qcow2"/);
  t.throws(() => qemuArgv('q', { ...SPEC, ramMb: 128 }), /at least 256 MB of RAM, the flavor gives 128/);
  t.throws(() => qemuArgv('q', { ...SPEC, vcpus: 0 }), /vcpus must be a whole number of at least 1, got 0/);
  t.throws(() => qemuArgv('q', { ...SPEC, name: 'A B' }), /instance id "A B" is not allowed/);
});
