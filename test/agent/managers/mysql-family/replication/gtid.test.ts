// GTID positions compared as the servers order them: pure functions, no server.
import t from 'tap';
import { mariadbAhead, mariadbPending, parseMariadbPosition, reached } from '../../../../../agent/managers/mysql-family/replication/gtid.js';
import { replicationUser, checkReplicationUser } from '../../../../../agent/managers/mysql-family/replication/names.js';
import { serverIdFor } from '../../../../../agent/managers/mysql-family/server-id.js';
import { renderMyCnf } from '../../../../../agent/managers/mysql-family/my-cnf.js';
import { dialectForVersion } from '../../../../../agent/managers/mysql-family/replication/dialect.js';

t.test('MariaDB positions: per domain, by seq_no', async (t) => {
  t.ok(reached('0-1-9', '0-1-10'));
  t.ok(reached('0-1-10,1-5-3', ' 1-5-3, 0-7-12 '), 'order and spaces do not matter');
  t.notOk(reached('1-5-4', '0-1-10,1-5-3'));
  t.equal(mariadbAhead('0-1-12,1-2-3', '0-1-10,1-2-3'), '0-1-12', 'only the domain where it is ahead');
  t.equal(mariadbAhead('0-1-10', '0-2-11'), '', 'behind: nothing diverged');
  t.equal(mariadbAhead('2-9-1', ''), '2-9-1', 'a domain the other lacks');
  t.equal(mariadbPending('0-1-15,1-1-4', '0-1-10,1-1-4'), 5);
  t.equal(mariadbPending('0-1-10', '0-1-10,1-1-4'), -1, 'a domain applied but not received: unknown');
  t.equal(parseMariadbPosition('').size, 0);
  t.throws(() => parseMariadbPosition('0-1-1,'), { code: 'AGENT_ERR_INVALID_ARGUMENT' });
  t.throws(() => parseMariadbPosition('x'.repeat(5000)), { code: 'AGENT_ERR_INVALID_ARGUMENT' });
});

t.test('names, server ids, dialects and the option file', async (t) => {
  const id = '0B6C9A6E-3F1D-4C3A-9A57-2F4D1E0C8B11';
  t.equal(replicationUser(id), 'coffer_repl_0b6c9a6e3f1d4c3a');
  t.doesNotThrow(() => checkReplicationUser(replicationUser(id)));
  t.throws(() => replicationUser('not-a-uuid'), { code: 'AGENT_ERR_INVALID_ARGUMENT' });
  t.equal(serverIdFor('a'), serverIdFor('a'), 'stable');
  const ids = new Set(Array.from({ length: 1000 }, (_, i) => serverIdFor(`instance-${i}`)));
  t.equal(ids.size, 1000, 'a thousand instances, a thousand server ids');
  t.ok([...ids].every((n) => n >= 1 && n <= 0xffffffff));
  t.equal(dialectForVersion('10.11.19-MariaDB-0+deb12u1-log').name, 'mariadb-gtid');
  t.equal(dialectForVersion('8.0.36').name, 'mysql-gtid');
  const base = { dataDir: '/d', runDir: '/r', logDir: '/l', tmpDir: '/t', port: 3306, bindAddress: '127.0.0.1', overrides: {}, serverId: 4242 };
  const cnf = renderMyCnf(base);
  t.match(cnf, /^server_id = 4242$/m);
  t.match(cnf, /^log_slave_updates = ON$/m);
  t.match(cnf, /^gtid_strict_mode = ON$/m);
  t.notMatch(cnf, /^read_only/m);
  t.match(renderMyCnf({ ...base, readOnly: true }), /^read_only = ON$/m);
  t.throws(() => renderMyCnf({ ...base, serverId: 0 }), /server_id/);
});
