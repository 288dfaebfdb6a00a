// Replication of MariaDB (GTID) and PostgreSQL (streaming) through the real
// OpenStack CLI (python-troveclient 8.0.0, unchanged) and a real
// coffer-control: a source made with --databases and --users, a replica
// with --replica-of holding its rows and following its writes while
// refusing its own, the Role column, promote, and detach. Rows are written
// and counted with each datastore's own client. (Redis, and eject:
// replication-openstack-cli.test.ts.)
import t from 'tap';
import { waitFor } from '../../support/agent.js';
import { startControl } from '../../support/control.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';
import { DATASTORE_USERS, PASSWORD, USER, takesWrite } from '../../support/replication.js';

type Row = Record<string, unknown>;

t.setTimeout(1_200_000);

const settled = (i: Row | null): boolean => (i?.status === 'ACTIVE' && !i.fault) || i?.status === 'ERROR';

for (const [datastore, version] of [['postgresql', '15'], ['mariadb', '10.11']] as const) {
  t.test(`${datastore}: openstack database instance create --replica-of, list, show, promote, detach`, async (t) => {
    const u = DATASTORE_USERS[datastore]!;
    const control = await startControl(t);
    const token = control.token('shop');
    const os = openstack(control.restPort, 'shop', token);
    const request = restClient(control.restPort);
    const get = async (id: string): Promise<Row> => (await request('GET', `/v1.0/shop/instances/${id}`, { token })).body.instance as Row;
    const roles = async () => Object.fromEntries((await os.json<Row[]>('database', 'instance', 'list')).map((i) => [String(i.Name), String(i.Role)]));

    const created = await os.json<Row>('database', 'instance', 'create', 'src', '--flavor', 'small', '--size', '1',
      '--datastore', datastore, '--datastore-version', version, '--databases', 'shop', '--users', `${USER}:${PASSWORD}`);
    const src = String(created.id);
    const s = await waitInstance(request, 'shop', token, src, settled, 300_000);
    t.equal(s!.status, 'ACTIVE', 'the source is ACTIVE');
    const srcPort = Number(s!.port);
    await u.setup(srcPort);
    for (let i = 1; i <= 20; i++) if (!(await u.write(srcPort, i))) t.fail(`writing row ${i} to the source failed`);

    const made = await os.json<Row>('database', 'instance', 'create', 'r1', '--replica-of', 'src');
    t.equal(made.replica_of, src, 'create --replica-of: the replica names its source');
    const r1 = String(made.id);
    const r = await waitInstance(request, 'shop', token, r1, settled, 600_000);
    t.equal(r!.status, 'ACTIVE', `the replica is ACTIVE${r!.fault ? ` (${JSON.stringify(r!.fault)})` : ''}`);
    const repPort = Number(r!.port);
    t.equal((await u.rows(repPort)).size, 20, 'the replica holds the source\'s 20 rows');
    await takesWrite(t, u, srcPort, 21, 'a write on the source');
    const seen = await waitFor('the write reaches the replica', async () => (await u.rows(repPort)).has(21), 60_000).catch(async (err) => {
      const v = await get(r1);
      t.comment(`the replica as the REST view shows it: streaming ${String(v.replication_streaming)}, error ${String(v.replication_error ?? '')}`);
      throw err;
    });
    t.ok(seen, 'reaches the replica within seconds');
    const streaming = await waitFor('the replica reports it streams', async () => ((await get(r1)).replication_streaming === true ? true : false), 30_000);
    t.ok(streaming, 'instance show: replication_streaming is true');
    t.not(await u.refusal(repPort, 99), '', 'the replica refuses writes');
    t.same(await roles(), { src: 'primary', r1: 'replica' }, 'instance list: the Role column');
    t.equal((await os.json<Row>('database', 'instance', 'show', 'src')).replicas, r1, 'instance show: the source\'s replicas');

    await os.ok('database', 'instance', 'promote', 'r1');
    await waitFor('r1 is the ACTIVE source, src its replica', async () => {
      const [a, b] = await Promise.all([get(r1), get(src)]);
      return a.status === 'ACTIVE' && b.status === 'ACTIVE' && (b.replica_of as Row | undefined)?.id === r1;
    }, 300_000);
    t.same(await roles(), { src: 'replica', r1: 'primary' }, 'after promote: the roles are swapped');
    await takesWrite(t, u, repPort, 22, 'the new source takes writes');
    await waitFor('the old source follows', async () => (await u.rows(srcPort)).has(22), 60_000);
    t.not(await u.refusal(srcPort, 98), '', 'the old source refuses writes');
    t.same([...(await u.rows(srcPort))].sort((a, b) => a - b), Array.from({ length: 22 }, (_, i) => i + 1), 'no row lost: 1 to 22 on the old source');

    await os.ok('database', 'instance', 'detach', 'src');
    await waitFor('src is standalone and ACTIVE', async () => {
      const i = await get(src);
      return i.status === 'ACTIVE' && !('replica_of' in i);
    }, 300_000);
    await takesWrite(t, u, srcPort, 23, 'after detach, src takes writes');
    t.same(await roles(), { src: '', r1: '' }, 'and both are standalone in instance list');
  });
}
