// Backups through the real OpenStack CLI: backup create, list, list
// instance, show, delete; an instance created from a backup (--backup)
// holding its data; incremental backups (--incremental, --parent). Checked
// with the mariadb client.
import t from 'tap';
import { startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitBackup, waitInstance } from '../../support/openstack/rest.js';

type Row = Record<string, unknown>;

t.setTimeout(600_000);

t.test('openstack database backup commands, and a restore with instance create --backup', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request = restClient(control.restPort);
  const settled = (i: Row | null) => i?.status === 'ACTIVE' || i?.status === 'ERROR';

  const created = await os.json<Row>('database', 'instance', 'create', 'ledger', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb',
    '--databases', 'ledger', '--users', 'app:App-pass-1');
  const id = String(created.id);
  const inst = await waitInstance(request, 'shop', token, id, settled);
  t.equal(inst!.status, 'ACTIVE', 'the source instance is ACTIVE');
  const port = Number(inst!.port);
  const sql = (q: string, p = port) => mariadb(p, 'app', 'App-pass-1', q, 'ledger');
  t.equal((await sql('CREATE TABLE entries (v INT); INSERT INTO entries VALUES (1)')).code, 0, 'data before the full backup');

  const full = await os.json<Row>('database', 'backup', 'create', 'full-1', '--instance', id);
  t.match(full.status, /^(NEW|BUILDING)$/, 'backup create answers NEW or BUILDING');
  t.equal(full.instance_id, id);
  const fullDone = await waitBackup(request, 'shop', token, String(full.id));
  t.equal(fullDone.status, 'COMPLETED', `the full backup completes${fullDone.fault ? `: ${JSON.stringify(fullDone.fault)}` : ''}`);
  await waitInstance(request, 'shop', token, id, settled);
  t.equal((await sql('INSERT INTO entries VALUES (2)')).code, 0, 'data after the full backup');

  const [list, forInstance, shown] = await Promise.all([
    os.json<Row[]>('database', 'backup', 'list'),
    os.json<Row[]>('database', 'backup', 'list', 'instance', id),
    os.json<Row>('database', 'backup', 'show', 'full-1'),
  ]);
  t.same(list.map((b) => b.Name), ['full-1'], 'backup list');
  t.same(forInstance.map((b) => b.ID), [full.id], 'backup list instance');
  t.equal(shown.id, full.id, 'backup show, by name');
  t.equal(shown.status, 'COMPLETED');
  t.equal(shown.datastore, 'mariadb');

  // A new instance from the full backup has its rows (and not the later one).
  await t.test('instance create --backup', async (t) => {
    const restored = await os.json<Row>('database', 'instance', 'create', 'ledger-copy', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb', '--backup', String(full.id));
    t.equal(restored.restored_from_backup_id, full.id, 'the create names the backup');
    const copy = await waitInstance(request, 'shop', token, String(restored.id), settled, 180_000);
    t.equal(copy!.status, 'ACTIVE', `instance create --backup: ACTIVE${copy!.fault ? ` (${JSON.stringify(copy!.fault)})` : ''}`);
    if (copy!.status !== 'ACTIVE') return;
    const rows = await sql('SELECT v FROM entries ORDER BY v', Number(copy!.port));
    t.equal(rows.code, 0, rows.stderr);
    t.same(rows.stdout.trim().split('\n'), ['1'], 'the restored instance holds the backed-up row');
  });

  await t.test('incremental backups', async (t) => {
    const inc = await os.json<Row>('database', 'backup', 'create', 'inc-1', '--instance', id, '--incremental');
    const incDone = await waitBackup(request, 'shop', token, String(inc.id));
    await waitInstance(request, 'shop', token, id, settled);
    t.equal(incDone.parent_id, full.id, '--incremental chains on the latest completed backup');
    t.equal(incDone.status, 'COMPLETED', `the incremental backup completes${incDone.fault ? `: ${JSON.stringify(incDone.fault)}` : ''}`);
    const withParent = await os.json<Row>('database', 'backup', 'create', 'inc-2', '--instance', id, '--parent', String(full.id));
    const withParentDone = await waitBackup(request, 'shop', token, String(withParent.id));
    await waitInstance(request, 'shop', token, id, settled);
    t.equal(withParentDone.parent_id, full.id, '--parent names the parent');
    t.equal(withParentDone.status, 'COMPLETED', 'and completes');
    if (incDone.status !== 'COMPLETED') return;
    const fromInc = await os.json<Row>('database', 'instance', 'create', 'ledger-inc', '--flavor', 'small', '--size', '1', '--datastore', 'mariadb', '--backup', String(inc.id));
    const incCopy = await waitInstance(request, 'shop', token, String(fromInc.id), settled, 180_000);
    const rows = await sql('SELECT v FROM entries ORDER BY v', Number(incCopy!.port));
    t.same(rows.stdout.trim().split('\n'), ['1', '2'], 'an instance from the incremental backup holds the rows of both');
  });

  await os.ok('database', 'backup', 'delete', String(full.id));
  const after = await os.json<Row[]>('database', 'backup', 'list');
  t.notOk(after.some((b) => b.ID === full.id), 'backup delete: it is gone from the list');
});
