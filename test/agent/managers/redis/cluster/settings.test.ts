// A member's redis.conf lines: its own ports announced (several members
// share 127.0.0.1), and with TLS the bus and the redirections on TLS too.
import t from 'tap';
import { redisClusterSettings } from '../../../../../agent/managers/redis/cluster/settings.js';

const self = { instanceId: 'a', host: '127.0.0.1', port: 7000, role: 'master', clusterPorts: { bus: 17000 } };

t.test('plaintext: cluster mode, nodes.conf under the data dir, the member\'s own ports announced', async (t) => {
  t.same(redisClusterSettings({ self, dataDir: '/b/data', tls: false }), [
    'cluster-enabled yes',
    'cluster-config-file /b/data/nodes.conf',
    'cluster-port 17000',
    'cluster-announce-ip 127.0.0.1',
    'cluster-announce-port 7000',
    'cluster-announce-bus-port 17000',
  ]);
});

t.test('TLS: tls-cluster, and the TLS port is what redirections name', async (t) => {
  const lines = redisClusterSettings({ self, dataDir: '/b/data', tls: true });
  t.ok(lines.includes('tls-cluster yes'));
  t.ok(lines.includes('cluster-announce-tls-port 7000'));
  t.notOk(lines.some((l) => l.startsWith('cluster-announce-port')), 'no plaintext port announced');
});

t.test('a host name is announced as one, an unsafe value refused', async (t) => {
  const lines = redisClusterSettings({ self: { ...self, host: 'db-1.example' }, dataDir: '/b/data', tls: false });
  t.ok(lines.includes('cluster-announce-hostname db-1.example'));
  t.ok(lines.includes('cluster-preferred-endpoint-type hostname'));
  t.throws(() => redisClusterSettings({ self, dataDir: '/b/da ta', tls: false }), /spaces/);
});
