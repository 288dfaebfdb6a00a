// The MariaDB archive table's ordering and continuity, and what
// mariadb-binlog is told for each kind of target: no server needed.
import t from 'tap';
import { binlogFollows, compareGtidPositions, checkGtidPosition } from '../../../../../agent/managers/mysql-family/archive/binlog-positions.js';
import { ofKind } from '../../../../support/error-kind.js';
import { binlogArgv } from '../../../../../agent/managers/mysql-family/archive/binlog-replay.js';

t.test('GTID positions order domain by domain', async (t) => {
  t.equal(compareGtidPositions('0-1-5', '0-1-5'), 0);
  t.ok(compareGtidPositions('0-1-5', '0-2-9') < 0, 'a later seq_no is ahead whatever the server');
  t.ok(compareGtidPositions('0-1-9,1-1-3', '0-1-9') > 0, 'a domain more is ahead');
  t.ok(compareGtidPositions('', '0-1-1') < 0, 'the empty position is before any');
  t.match(checkGtidPosition('0-1-x'), /0-1-x/, 'a malformed position is refused, naming it');
  t.ok(checkGtidPosition(''), 'an empty target is refused');
});

t.test('a binlog follows the previous one: the next number, from the state it ended in', async (t) => {
  const prev = { name: 'mysql-bin.000007', endPosition: '0-1-42' };
  t.ok(binlogFollows(prev, { name: 'mysql-bin.000008', startPosition: '0-1-42' }));
  t.notOk(binlogFollows(prev, { name: 'mysql-bin.000009', startPosition: '0-1-42' }), 'a missing file breaks the run');
  t.notOk(binlogFollows(prev, { name: 'mysql-bin.000008', startPosition: '0-1-40' }), 'a state that does not continue breaks it');
});

t.test('mariadb-binlog is told an inclusive target', async (t) => {
  const files = ['/w/mysql-bin.000001', '/w/mysql-bin.000002'];
  // 2026-12-02 12:30:00 UTC: every event stamped at or before it is applied.
  t.same(binlogArgv('mariadb-binlog', files, '0-1-7', { timeSeconds: 1796214600 }), [
    'mariadb-binlog', '--no-defaults', '--start-position=0-1-7', '--stop-datetime=2026-12-02 12:30:01', ...files,
  ]);
  t.same(binlogArgv('mariadb-binlog', files, '', { gtid: '0-1-12' }), ['mariadb-binlog', '--no-defaults', '--stop-position=0-1-12', ...files]);
  t.throws(() => binlogArgv('mariadb-binlog', files, '0-1-7', { gtid: '0-1-12 --exec=x' }), ofKind('INVALID_ARGUMENT'), 'a malformed GTID never becomes an argument');
  t.throws(() => binlogArgv('mariadb-binlog', ['relative'], '', { gtid: '0-1-1' }), /not absolute/);
});
