// Guest logs through the control (docs/logs.md): the real OpenStack CLI's
// `database log list|show|set` unchanged on Trove's v1.0 shapes and
// statuses, and the coffer CLI's log commands, `coffer log tail` following
// the live stream through the control. One MariaDB instance walked through
// enable, a query and a user (password redacted), publish to the local
// store, discard, disable, and a hostile log name.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { credentials, status as Status } from '@grpc/grpc-js';
import { auth, startControl } from '../../support/control.js';
import { agentEnv, waitFor, withoutTapLoaders } from '../../support/agent.js';
import { mariadb } from '../../support/mariadb-client.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';
import { cliFor, COFFER_BIN, json } from '../../cli/coffer-cli.js';
import { LogServiceClient } from '../../../proto/gen/coffer/control/v1/logs.js';

type Row = Record<string, unknown>;
const PASSWORD = 'Gr33n-Elephant-77';

t.setTimeout(300_000);

t.test('guest logs through the REST bridge, the openstack CLI and the coffer CLI', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);
  const cli = cliFor(control.address, token);

  const created = await os.json<Row>('database', 'instance', 'create', 'ledger', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb', '--databases', 'ledger', '--users', 'app:App-pass-1');
  const id = String(created.id);
  const inst = await waitInstance(request, 'shop', token, id, (i) => i?.status === 'ACTIVE' || i?.status === 'ERROR');
  t.equal(inst!.status, 'ACTIVE');
  const sql = (q: string) => mariadb(Number(inst!.port), 'app', 'App-pass-1', q, 'ledger');

  await t.test('log list and show: Trove shapes and statuses', async (t) => {
    const list = await os.json<Row[]>('database', 'log', 'list', id);
    t.same(list.map((l) => [l.Name, l.Type, l.Status]), [['error', 'SYS', 'Ready'], ['general', 'USER', 'Disabled'], ['slow_query', 'USER', 'Disabled'], ['guest', 'SYS', 'Ready']]);
    t.same(Object.keys(list[0]!).sort(), ['Container', 'Name', 'Pending', 'Prefix', 'Published', 'Status', 'Type']);
    const raw = await request('GET', `/v1.0/shop/instances/${id}/log`, { token });
    t.equal(raw.status, 200);
    t.same(Object.keys((raw.body as { logs: Row[] }).logs[0]!).sort(), ['container', 'metafile', 'name', 'pending', 'prefix', 'published', 'status', 'type']);
    const shown = await os.json<Row>('database', 'log', 'show', id, 'general');
    t.equal(shown.status, 'Disabled');
    t.equal(shown.metafile, `${id}/mariadb-general_metafile`);
    t.equal(shown.container, 'None');
  });

  await t.test('a hostile or unknown log name gets a clear error', async (t) => {
    const bad = await request('POST', `/v1.0/shop/instances/${id}/log`, { token, body: { name: '../../etc/passwd' } });
    t.equal(bad.status, 400);
    t.match(JSON.stringify(bad.body), /not a log name/);
    const unknown = await os.run('database', 'log', 'show', id, 'binlog');
    t.not(unknown.code, 0);
    t.match(unknown.stderr + unknown.stdout, /no log named binlog.*logs: error, general, slow_query, guest/);
    const sys = await request('POST', `/v1.0/shop/instances/${id}/log`, { token, body: { name: 'error', disable: 1 } });
    t.equal(sys.status, 400);
    t.match(JSON.stringify(sys.body), /SYS log/);
    const both = await request('POST', `/v1.0/shop/instances/${id}/log`, { token, body: { name: 'general', enable: 1, disable: 1 } });
    t.equal(both.status, 400);
  });

  await t.test('enable, then a followed tail through the control sees a query and a redacted password', async (t) => {
    const on = await os.json<Row>('database', 'log', 'set', id, 'general', '--enable');
    t.match(on.status, /^(Enabled|Ready)$/);
    const client = new LogServiceClient(control.address, credentials.createInsecure());
    t.teardown(() => client.close());
    const lines: string[] = [];
    const stream = client.tailLog({ instanceId: id, name: 'general', lines: 1, follow: true }, auth(token));
    stream.on('data', (m: { lines: string[] }) => lines.push(...m.lines));
    stream.on('error', () => undefined);
    t.teardown(() => stream.cancel());
    // The coffer CLI follows the same stream; it is stopped by SIGINT as a user would.
    const follower = spawn(...withoutTapLoaders([process.execPath, COFFER_BIN, 'log', 'tail', 'ledger', 'general', '--lines', '1']), {
      env: { ...agentEnv(), COFFER_ENDPOINT: control.address, COFFER_TOKEN: token, COFFER_PLAINTEXT: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let followed = '';
    follower.stdout!.on('data', (d: Buffer) => (followed += d.toString()));
    const followerExit = new Promise<number | null>((resolve) => follower.on('close', resolve));
    t.teardown(() => follower.kill('SIGKILL'));

    await waitFor('the followers attached', async () => {
      await sql("SELECT 'coffer-rest-1'");
      return lines.some((l) => l.includes('coffer-rest-1')) && followed.includes('coffer-rest-1');
    });
    await sql(`CREATE USER 'bob'@'%' IDENTIFIED BY '${PASSWORD}'`).catch(() => undefined);
    const created = await os.run('database', 'user', 'create', id, 'carol', PASSWORD);
    t.equal(created.code, 0, created.stderr);
    await sql("SELECT 'coffer-rest-2'");
    await waitFor('the later query in both tails', async () => lines.some((l) => l.includes('coffer-rest-2')) && followed.includes('coffer-rest-2'));
    t.notOk(lines.join('\n').includes(PASSWORD), 'no password in the gRPC tail');
    t.notOk(followed.includes(PASSWORD), 'no password in coffer log tail');
    follower.kill('SIGINT');
    t.equal(await followerExit, 0, 'coffer log tail ends cleanly on Ctrl-C');

    const once = await cli(['log', 'tail', 'ledger', 'general', '--no-follow', '--lines', '200']);
    t.equal(once.code, 0, once.stderr);
    t.match(once.stdout, /coffer-rest-2/);
    t.match(once.stdout, /IDENTIFIED (BY|WITH mysql_native_password AS) '\[redacted\]'/);
  });

  await t.test('publish to the local store, discard, disable', async (t) => {
    const pub = await os.json<Row>('database', 'log', 'set', id, 'general', '--publish');
    // The agent's status queries at each heartbeat land in the general log
    // too: a line may already be written after the publish (Partial).
    t.match(pub.status, /^(Published|Partial)$/);
    t.ok(Number(pub.published) > 0, `published ${pub.published} bytes`);
    t.equal(pub.container, 'database_logs');
    t.equal(pub.prefix, `${id}/mariadb-general/`);
    const dir = path.join(control.dataDir, 'backups', 'database_logs', id, 'mariadb-general');
    const objects = readdirSync(dir).filter((f) => /^log-[\d-]+T[\d:.]+$/.test(f));
    t.equal(objects.length, 1, 'one log-<timestamp> object');
    const body = readFileSync(path.join(dir, objects[0]!), 'utf8');
    t.match(body, /coffer-rest-2/);
    t.notOk(body.includes(PASSWORD), 'no password in the published object');
    t.ok(existsSync(path.join(control.dataDir, 'backups', 'database_logs', id, 'mariadb-general_metafile')), 'the metafile');

    const listed = json<Row[]>(await cli(['log', 'list', 'ledger', '--json']));
    // The agent's own status queries land in the general log too: by now it may be Partial.
    t.match(listed.find((l) => l.name === 'general')?.status, /^(Published|Partial)$/, 'coffer log list --json');
    const discarded = await os.json<Row>('database', 'log', 'set', id, 'general', '--discard');
    t.equal(discarded.container, 'None');
    t.same(readdirSync(dir).filter((f) => /^log-[\d-]+T[\d:.]+$/.test(f)), [], 'the objects are gone');

    const off = await cli(['log', 'disable', 'ledger', 'general']);
    t.equal(off.code, 0, off.stderr);
    t.match(off.stdout, /^status\s+Disabled$/m);
    const bad = await cli(['log', 'show', 'ledger', 'no/such']);
    t.not(bad.code, 0);
    t.match(bad.stderr, /not a log name/);
  });

  await t.test('another project does not see the logs', async (t) => {
    const other = await request('GET', `/v1.0/other/instances/${id}/log`, { token: control.token('other') });
    t.equal(other.status, 404);
    const client = new LogServiceClient(control.address, credentials.createInsecure());
    t.teardown(() => client.close());
    const err = await new Promise<{ code: number }>((resolve) => client.listLogs({ instanceId: id }, auth(control.token('other')), (e) => resolve(e as { code: number })));
    t.equal(err.code, Status.NOT_FOUND);
  });
});
