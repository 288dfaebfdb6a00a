// mountinfo as the kernel writes it (proc(5)): optional fields before the
// "-", octal escapes in paths, device numbers as "major:minor".
import t from 'tap';
import { deviceNumber, parseMountInfo } from '../../../agent/lifecycle/mountinfo.js';

t.test('mount entries: device, unescaped mount point, filesystem type', async (t) => {
  const text = [
    '29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
    '100 29 7:3 / /var/lib/my\\040data rw,relatime shared:50 master:2 - ext4 /dev/loop3 rw',
    '101 29 0:45 / /tmp rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  t.same(parseMountInfo(text), [
    { device: '259:2', mountPoint: '/', fsType: 'ext4' },
    { device: '7:3', mountPoint: '/var/lib/my data', fsType: 'ext4' },
    { device: '0:45', mountPoint: '/tmp', fsType: 'tmpfs' },
  ]);
});

t.test('device numbers from rdev', async (t) => {
  t.equal(deviceNumber((7 << 8) | 3), '7:3', 'a loop device');
  t.equal(deviceNumber((253 << 8) | 16), '253:16', 'a virtio disk');
  // glibc's makedev: a minor past 255 keeps its low 8 bits at the bottom and the rest from bit 20.
  const makedev = (major: number, minor: number): number => (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
  t.equal(deviceNumber(makedev(259, 0x1234)), '259:4660', 'a large minor');
});
