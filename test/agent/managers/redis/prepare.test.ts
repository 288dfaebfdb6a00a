// Prepare end to end on a real redis-server started by the agent.
import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, type AgentProcess } from '../../../support/agent.js';
import { connectAs, redisCli, refusal } from '../../../support/redis-cli.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

const PREPARE = {
  datastoreVersion: '7.0',
  rootPassword: '',
  databases: [],
  users: [{ name: 'cache', host: '', password: 'C4che-pass', databases: [], rules: ['~cache:*', '+get', '+set'] }],
  overrides: { 'maxmemory-policy': 'allkeys-lru', maxmemory: '64M' },
  restore: undefined, replicaOf: undefined,
};

t.test('Prepare turns a fresh instance into a secured, running Redis', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_NEW, 'a fresh instance is NEW');

  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(PREPARE));
  const phases = events.filter((e) => e.progress).map((e) => e.progress!.phase);
  t.same(phases, ['validate', 'configure', 'init-datadir', 'start', 'secure', 'users'], 'progress phases in order');
  const result = events.at(-1)!.result;
  t.equal(result?.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.match(result?.serverVersion, /^7\.0\./, 'the server reports Redis 7.0');

  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_ACTIVE);
  t.equal(s.datastore, 'redis');
  t.equal(s.datastorePort, agent.datastorePort);

  // The created user: its rules allow GET/SET on cache:* and nothing else.
  const cache = await connectAs(t, agent.datastorePort, 'cache', 'C4che-pass');
  t.equal(await cache.set('cache:a', '1'), 'OK', 'SET on an allowed key');
  t.equal(await cache.get('cache:a'), '1', 'GET on an allowed key');
  t.match(await refusal(cache.set('other:a', '1')), /NOPERM/, 'SET outside the key pattern is refused');
  t.match(await refusal(cache.del('cache:a')), /NOPERM/, 'a command not granted (DEL) is refused');
  t.match(await refusal(cache.call('CONFIG', 'GET', 'maxmemory')), /NOPERM/, 'admin commands are refused');

  // The same through redis-cli, with the password in REDISCLI_AUTH.
  const cli = await redisCli(agent.datastorePort, 'cache', 'C4che-pass', ['GET', 'cache:a']);
  t.equal(cli.stdout.trim(), '1', cli.stderr);
  t.match(await refusal(connectAs(t, agent.datastorePort, 'cache', 'wrong')), /WRONGPASS/, 'a wrong password is refused');

  // Without credentials: the default user is off when root is not enabled.
  const anon = await redisCli(agent.datastorePort, '', '', ['GET', 'cache:a']);
  t.match(anon.stdout + anon.stderr, /NOAUTH/, 'no anonymous access');

  // The overrides are in force from the first start.
  const conf = readFileSync(path.join(agent.baseDir, 'etc', 'redis.conf'), 'utf8');
  t.match(conf, /^maxmemory-policy "allkeys-lru"$/m, 'the override is rendered');
  t.match(conf, /^maxmemory "67108864"$/m, 'sizes are normalised to bytes');
  t.notMatch(conf, /^daemonize yes/m, 'not daemonized: the agent supervises it');
  t.match(conf, /^protected-mode yes$/m);
  t.match(conf, new RegExp(`^bind 127\\.0\\.0\\.1$`, 'm'), 'binds the configured address');

  // The agent's own account: a 0600 secret; the server runs as redis.
  const secretFile = path.join(agent.baseDir, 'agent', 'admin.secret');
  t.equal(statSync(secretFile).mode & 0o777, 0o600, 'admin secret is 0600');
  const aclFile = path.join(agent.baseDir, 'etc', 'acl', 'users.acl');
  // ACL SAVE rewrites the file with redis's umask; its directory is redis's own, 0700.
  t.equal(statSync(path.dirname(aclFile)).mode & 0o777, 0o700, 'the ACL directory is 0700');
  const acl = readFileSync(aclFile, 'utf8');
  t.match(acl, /^user cache on .*#[0-9a-f]{64} ~cache:\* .*-@all (\+get \+set|\+set \+get)$/m, 'the user is persisted (ACL SAVE), password as a digest');
  t.notMatch(acl, /C4che-pass/, 'no clear password in the ACL file');
  t.match(acl, /^user default off /m, 'the default user is off');
  const pid = JSON.parse(readFileSync(path.join(agent.baseDir, 'agent', 'datastore.pid'), 'utf8')).pid as number;
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1];
  t.equal(Number(uid), Number(/^redis:x:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))![1]), 'redis-server runs as the redis user');
  const sock = statSync(path.join(agent.baseDir, 'run', 'redis.sock'));
  t.equal(sock.mode & 0o777, 0o700, 'the unix socket is 0700');

  // A second Prepare is refused and changes nothing.
  const again = collect<PrepareResponse>(agent.clients.lifecycle.prepare({ ...PREPARE, users: [{ ...PREPARE.users[0]!, name: 'other' }] }));
  await t.rejects(again, { code: Status.FAILED_PRECONDITION });
  t.match(await refusal(connectAs(t, agent.datastorePort, 'other', 'C4che-pass')), /WRONGPASS/, 'the second Prepare created nothing');
  t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'still ACTIVE');
});

t.test('Prepare with a root password enables the default user (requirepass semantics)', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, rootPassword: 'R00t-secret!', users: [], overrides: {} }));
  const root = await connectAs(t, agent.datastorePort, '', 'R00t-secret!');
  t.equal(await root.call('ACL', 'WHOAMI'), 'default', 'AUTH <password> logs in as root');
  t.equal(await root.set('any:key', 'v'), 'OK', 'root reaches every key');
  t.ok(await root.call('CONFIG', 'GET', 'maxmemory'), 'root may read the configuration');
  t.match(await refusal(root.call('CONFIG', 'SET', 'maxmemory', '1')), /NOPERM/, 'but not change it behind the agent');
  t.match(await refusal(root.call('ACL', 'SETUSER', 'coffer_admin', 'off')), /NOPERM/, 'nor lock the agent out');
  t.match(await refusal(root.call('SHUTDOWN')), /NOPERM/, 'nor shut the server down');
  const cli = await redisCli(agent.datastorePort, '', 'R00t-secret!', ['GET', 'any:key']);
  t.equal(cli.stdout.trim(), 'v', 'redis-cli with REDISCLI_AUTH only');
});

t.test('a bad Prepare is refused before anything happens', async (t) => {
  const agent = await startAgent(t, { datastore: 'redis' });
  const user = (patch: object) => ({ users: [{ ...PREPARE.users[0]!, ...patch }] });
  const cases: Array<[string, object, Status]> = [
    ['databases', { databases: [{ name: 'db0', characterSet: '', collation: '' }] }, Status.UNIMPLEMENTED],
    ['a user granted a database', user({ databases: ['db0'] }), Status.UNIMPLEMENTED],
    ['hostile user name', user({ name: 'x on >pw ~* +@all' }), Status.INVALID_ARGUMENT],
    ['reserved user (default)', user({ name: 'default' }), Status.INVALID_ARGUMENT],
    ['reserved user (agent)', user({ name: 'coffer_admin' }), Status.INVALID_ARGUMENT],
    ['a host other than %', user({ host: '10.0.0.1' }), Status.INVALID_ARGUMENT],
    ['rule smuggling +@all', user({ rules: ['~cache:* +@all'] }), Status.INVALID_ARGUMENT],
    ['rule with a password', user({ rules: ['>secret'] }), Status.INVALID_ARGUMENT],
    ['rule nopass', user({ rules: ['nopass'] }), Status.INVALID_ARGUMENT],
    ['rule with a newline', user({ rules: ['~a\nuser evil on nopass ~* +@all'] }), Status.INVALID_ARGUMENT],
    ['unknown category', user({ rules: ['+@nosuch'] }), Status.INVALID_ARGUMENT],
    ['empty password', user({ password: '' }), Status.INVALID_ARGUMENT],
    ['unknown override', { overrides: { dir: '/etc' } }, Status.INVALID_ARGUMENT],
    ['newline in override', { overrides: { 'notify-keyspace-events': 'K\ndir /etc' } }, Status.INVALID_ARGUMENT],
    ['bad save points', { overrides: { save: '60 1 x' } }, Status.INVALID_ARGUMENT],
    ['wrong version', { datastoreVersion: '6.2' }, Status.INVALID_ARGUMENT],
    ['root password with a newline', { rootPassword: 'a\nb' }, Status.INVALID_ARGUMENT],
  ];
  for (const [name, patch, code] of cases) {
    const req = { ...PREPARE, users: [], overrides: {}, ...patch };
    await t.rejects(collect(agent.clients.lifecycle.prepare(req)), { code }, name);
  }
  const s = await status(agent);
  t.equal(s.state, DatastoreState.DATASTORE_STATE_NEW, 'still NEW: nothing was started');
  t.equal(s.volume!.dataBytes, 0, 'no data directory was initialised');
});
