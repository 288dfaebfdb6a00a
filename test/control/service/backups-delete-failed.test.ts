// Deleting a FAILED backup sweeps the stores again: what its upload left
// when the control's own sweep at failure time could not run (the store
// failed then) goes with the backup. While the store fails, the delete is
// refused with 503 and the backup stays listed, as for a COMPLETED backup.
import t from 'tap';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { agentPids, startControl } from '../../support/control.js';
import { mariadb } from '../../support/mariadb-client.js';
import { restClient, troveSteps, waitBackup, waitInstance } from '../../support/openstack/rest.js';
import { holdMidUpload, localPartials, untilEmpty } from '../../support/abandoned-upload.js';

t.setTimeout(900_000);

t.test('deleting a FAILED backup removes what its upload left in local storage', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const request = restClient(control.restPort);
  const steps = troveSteps(t, request, 'shop', token);
  const inst = await steps.create('ledger', { datastore: { type: 'mariadb', version: '10.11' }, databases: [{ name: 'ledger' }], users: [{ name: 'app', password: 'App-pass-1', databases: [{ name: 'ledger' }] }] });
  const instId = String(inst.id);
  // Enough that compression cannot finish the upload before it is held.
  const fill = await mariadb(Number(inst.port), 'app', 'App-pass-1', 'CREATE TABLE noise (v INT PRIMARY KEY, pad VARBINARY(255)); INSERT INTO noise SELECT seq, RANDOM_BYTES(255) FROM seq_1_to_120000', 'ledger');
  t.equal(fill.code, 0, `the table is filled ${fill.stderr}`);

  const root = path.join(control.dataDir, 'backups');
  const partials = (): string[] => localPartials(root);
  const r = await request('POST', '/v1.0/shop/backups', { token, body: { backup: { name: 'doomed', instance: instId } } });
  t.equal(r.status, 202, `the backup is accepted (${r.status})`);
  const id = String(r.body?.backup?.id);
  const tool = await holdMidUpload(path.join(control.dataDir, 'instances', instId), async () => partials().length > 0);
  const [partial] = partials();
  t.match(partial, new RegExp(`^${instId}/\\.${id}\\.backup\\.partial-[0-9a-f]{12}$`), 'mid-upload, the store holds a partial file of the backup');
  const [agent] = agentPids(control.dataDir);
  t.ok(agent, 'the agent runs');
  process.kill(agent!, 'SIGKILL');
  process.kill(tool, 'SIGKILL');
  t.equal((await waitBackup(request, 'shop', token, id)).status, 'FAILED', 'the backup ends FAILED');
  t.same(await untilEmpty(partials), [], 'the sweep at failure time ran');
  await waitInstance(request, 'shop', token, instId, (i) => i?.status !== 'BACKUP');

  // As if that sweep had failed: the partial is back where the upload left it.
  const instDir = path.join(root, instId);
  const putPartialBack = (): void => {
    mkdirSync(instDir, { recursive: true });
    writeFileSync(path.join(root, partial!), Buffer.alloc(64 * 1024, 7));
  };

  await t.test('the store failing: 503, the backup and the partial stay', async (t) => {
    // The instance's folder replaced by a file: listing it fails (ENOTDIR).
    rmSync(instDir, { recursive: true, force: true });
    writeFileSync(instDir, 'not a folder');
    const refused = await request('DELETE', `/v1.0/shop/backups/${id}`, { token });
    t.equal(refused.status, 503, refused.text);
    t.equal((Object.values(refused.body ?? {})[0] as { coffer_error?: string } | undefined)?.coffer_error, 'CONTROL_ERR_STORAGE', refused.text);
    t.match(refused.text, /the backup is kept, try the delete again/);
    const still = await request('GET', `/v1.0/shop/backups/${id}`, { token });
    t.equal(still.status, 200, 'still listed');
    t.equal(still.body?.backup?.status, 'FAILED');
    rmSync(instDir, { force: true });
  });

  await t.test('the store back: the delete removes the record and the partial', async (t) => {
    putPartialBack();
    t.same(partials(), [partial], 'the partial is in the store');
    const r = await request('DELETE', `/v1.0/shop/backups/${id}`, { token });
    t.ok(r.status === 202 || r.status === 204, `the delete is accepted (${r.status} ${r.text})`);
    t.equal((await request('GET', `/v1.0/shop/backups/${id}`, { token })).status, 404, 'gone from the API');
    t.same(partials(), [], 'the partial is gone');
    t.same(readdirSync(instDir), [], 'nothing of the backup is left in the store');
  });
});
