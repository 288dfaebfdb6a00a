// The pure parts of PostgreSQL replication: WAL positions compared as
// numbers, names and sources checked before they reach a file or a
// connection string, and the files rendered from them.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lsnReached, parseLsn, formatLsn } from '../../../../../agent/managers/postgresql/replication/lsn.js';
import { checkSource, slotName } from '../../../../../agent/managers/postgresql/replication/names.js';
import { conninfoValue, ReplicationSettings } from '../../../../../agent/managers/postgresql/replication/settings.js';
import { parseDivergence } from '../../../../../agent/managers/postgresql/replication/rewind.js';
import { renderPgHba, renderPostgresqlConf } from '../../../../../agent/managers/postgresql/conf.js';
import { layoutFor } from '../../../../../agent/layout.js';
import { lookupOsUser } from '../../../../../lib/os-user.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

t.test('LSNs compare as 64-bit positions, never as strings', async (t) => {
  t.ok(lsnReached('0/9000000', '0/A0000000'), '0/A0000000 is past 0/9000000 (as text it sorts before)');
  t.notOk(lsnReached('1/0', '0/FFFFFFFF'), 'the high half counts');
  t.ok(lsnReached('0/3000148', '0/3000148'), 'equal is reached');
  t.ok(lsnReached('0/3000148', '0/3000148'.toLowerCase()), 'case does not matter');
  t.equal(parseLsn('1/0'), 1n << 32n);
  t.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  for (const bad of ['', 'zz', '0/', '/0', '1/2/3', '123456789/0', "0/1'", ' 0/1', '-1/0']) {
    t.equal(code(() => lsnReached(bad, '0/0')), 'AGENT_ERR_INVALID_ARGUMENT', `target ${JSON.stringify(bad)}`);
    t.equal(code(() => lsnReached('0/0', bad)), 'AGENT_ERR_INVALID_ARGUMENT', `current ${JSON.stringify(bad)}`);
  }
});

t.test('slot names come from the replica id; sources are checked field by field', async (t) => {
  t.equal(slotName('3B9AB8F3-32A4-4445-A7EE-9BF6054197EC'), 'coffer_3b9ab8f332a44445a7ee9bf6054197ec');
  t.equal(code(() => slotName('../x')), 'AGENT_ERR_INVALID_ARGUMENT');
  t.equal(code(() => slotName('')), 'AGENT_ERR_INVALID_ARGUMENT');
  const good = { host: 'db-1.example', port: 5432, replicationUser: 'coffer_replication', replicationPassword: 'Pw-1:\\x', position: '', instanceId: 'i-1', slotName: `coffer_${'a'.repeat(32)}` };
  t.same(checkSource(good), { host: 'db-1.example', port: 5432, user: 'coffer_replication', password: 'Pw-1:\\x', slot: good.slotName, instanceId: 'i-1' });
  t.equal(checkSource({ ...good, host: 'fd00::1' }).host, 'fd00::1', 'IPv6');
  for (const [field, patch] of [
    ['host', { host: "a' sslmode=disable" }],
    ['host', { host: '' }],
    ['port', { port: 0 }],
    ['replication_user', { replicationUser: 'coffer_admin' }],
    ['replication_password', { replicationPassword: '' }],
    ['replication_password', { replicationPassword: 'é' }],
    ['slot_name', { slotName: 'coffer_x' }],
    ['instance_id', { instanceId: '../x' }],
  ] as const) {
    t.throws(() => checkSource({ ...good, ...patch }), { code: 'AGENT_ERR_INVALID_ARGUMENT', message: new RegExp(field) }, `${field}: ${JSON.stringify(patch)}`);
  }
  t.throws(() => checkSource(undefined), { code: 'AGENT_ERR_INVALID_ARGUMENT' });
});

t.test('the standby\'s connection string quotes every value and names the passfile, not the password', async (t) => {
  t.equal(conninfoValue("a b'c\\d"), "'a b\\'c\\\\d'");
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-pgrepl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
  const settings = new ReplicationSettings(layoutFor(path.join(dir, 'base')), () => lookupOsUser('postgres'), caFile);
  const source = checkSource({ host: '127.0.0.1', port: 5433, replicationUser: '', replicationPassword: 'Se:cr\\et', position: '', instanceId: 'src', slotName: `coffer_${'b'.repeat(32)}` });
  settings.writeSecrets(source);
  settings.save({ source: { host: source.host, port: source.port, user: source.user, slot: source.slot, instanceId: source.instanceId } });
  const conf = readFileSync(settings.confFile, 'utf8');
  t.match(conf, /^primary_conninfo = '.*sslmode=''verify-full''.*'$/m, 'verify-full');
  t.match(conf, /passfile=''[^']*passfile''/);
  t.match(conf, new RegExp(`^primary_slot_name = 'coffer_${'b'.repeat(32)}'$`, 'm'));
  t.notMatch(conf, /Se:cr/, 'no password in the conf');
  t.equal(readFileSync(settings.passfile, 'utf8'), '127.0.0.1:5433:*:coffer_replication:Se\\:cr\\\\et\n', 'passfile fields escaped');
  t.equal(statSync(settings.passfile).mode & 0o777, 0o600);
  t.equal(statSync(settings.passfile).uid, lookupOsUser('postgres').uid, 'owned by the server\'s user, who reads it');
  settings.save({ fenced: true });
  t.match(readFileSync(settings.confFile, 'utf8'), /^default_transaction_read_only = on$/m);
  settings.removeSecrets();
  settings.save({ source: null, fenced: false });
  t.notMatch(readFileSync(settings.confFile, 'utf8'), /primary_conninfo|read_only/);
});

t.test('pg_hba.conf: the replication role over TLS only; fenced, no client but the agent', async (t) => {
  const hba = renderPgHba();
  const lines = hba.split('\n');
  const first = (re: RegExp) => lines.findIndex((l) => re.test(l));
  t.ok(first(/^hostnossl replication all all reject$/) < first(/^hostssl replication coffer_replication all scram-sha-256$/), 'plaintext replication rejected first');
  t.ok(first(/^hostnossl all coffer_replication all reject$/) >= 0);
  t.match(hba, /^host all all 0\.0\.0\.0\/0 scram-sha-256$/m, 'tenants as before');
  const fenced = renderPgHba({ fenced: true });
  t.notMatch(fenced, /^host all all 0\.0\.0\.0/m);
  t.match(fenced, /^host all all all reject$/m);
  t.match(fenced, /^local all all reject$/m);
  t.match(fenced, /^local all coffer_admin peer map=coffer_admin$/m, 'the agent still gets in');
  t.match(fenced, /^hostssl replication coffer_replication all scram-sha-256$/m, 'and the replicas');
  const conf = renderPostgresqlConf({ dataDir: '/d', etcDir: '/e', runDir: '/r', port: 5432, bindAddress: '127.0.0.1', overrides: {} });
  t.match(conf, /^hot_standby = on$/m);
  t.match(conf, /^wal_level = 'replica'$/m);
  // After every override; only the replay of a restore to a point (docs/pitr.md) comes later.
  const includes = conf.trim().split('\n').filter((l) => !l.startsWith('#')).slice(-2);
  t.same(includes, ["include_if_exists = '/e/replication.conf'", "include_if_exists = '/e/recovery-target.conf'"], 'the replication settings come after the overrides, then a restore target');
});

t.test('pg_rewind\'s report', async (t) => {
  t.equal(parseDivergence('pg_rewind: servers diverged at WAL location 0/3008FA0 on timeline 1\npg_rewind: rewinding from last common checkpoint at 0/2000060 on timeline 1'), '0/3008FA0');
  t.equal(parseDivergence('pg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required'), null);
  t.throws(() => parseDivergence('pg_rewind: error: something else'), { code: 'AGENT_ERR_DATASTORE' });
});
