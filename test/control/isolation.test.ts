// Tokens and projects: every call needs a known token; another project's
// instance does not exist for the caller (NOT_FOUND), and lists are
// per project, paged.
import t from 'tap';
import path from 'node:path';
import Database from 'better-sqlite3';
import { status as Status } from '@grpc/grpc-js';
import { collect } from '../support/agent.js';
import { ccall, cstream, startControl } from '../support/control.js';
import { CreateInstanceRequest, type CreateInstanceResponse, type ListInstancesResponse } from '../../proto/gen/coffer/control/v1/instances.js';

t.test('tokens and project isolation', async (t) => {
  const control = await startControl(t);
  const alpha = control.token('alpha');
  const beta = control.token('beta');
  const admin = control.token('ops', true);
  const { instances, accounts, tasks, catalog } = control.clients;

  await t.rejects(ccall(catalog, 'listFlavors', {}, ''), { code: Status.UNAUTHENTICATED }, 'no token: UNAUTHENTICATED');
  await t.rejects(ccall(catalog, 'listFlavors', {}, 'coffer_not-a-token'), { code: Status.UNAUTHENTICATED }, 'an unknown token: UNAUTHENTICATED');

  const made: CreateInstanceResponse[] = [];
  for (const name of ['one', 'two']) made.push(await ccall<CreateInstanceResponse>(instances, 'createInstance', CreateInstanceRequest.fromPartial({ name }), alpha));
  const id = made[0]!.instance!.id;

  await t.rejects(ccall(instances, 'getInstance', { id }, beta), { code: Status.NOT_FOUND }, 'another project\'s instance: get is NOT_FOUND');
  await t.rejects(ccall(instances, 'deleteInstance', { id }, beta), { code: Status.NOT_FOUND }, 'delete is NOT_FOUND');
  await t.rejects(ccall(accounts, 'listDatabases', { instanceId: id }, beta), { code: Status.NOT_FOUND }, 'its databases are NOT_FOUND');
  await t.rejects(ccall(tasks, 'getTask', { id: made[0]!.taskId }, beta), { code: Status.NOT_FOUND }, 'its task is NOT_FOUND');
  await t.rejects(collect(cstream(instances, 'watchInstance', { id }, beta)), { code: Status.NOT_FOUND }, 'watching it is NOT_FOUND');
  const betaList = await ccall<ListInstancesResponse>(instances, 'listInstances', { pageSize: 0, pageToken: '' }, beta);
  t.same(betaList.instances, [], 'beta lists nothing');

  const p1 = await ccall<ListInstancesResponse>(instances, 'listInstances', { pageSize: 1, pageToken: '' }, alpha);
  t.equal(p1.instances.length, 1, 'a page of one');
  t.ok(p1.nextPageToken, 'with a next page');
  const p2 = await ccall<ListInstancesResponse>(instances, 'listInstances', { pageSize: 1, pageToken: p1.nextPageToken }, alpha);
  t.equal(p2.instances.length, 1);
  t.equal(p2.nextPageToken, '', 'the last page says so');
  t.same([...p1.instances, ...p2.instances].map((i) => i.id).sort(), made.map((m) => m.instance!.id).sort(), 'the pages hold alpha\'s two instances');

  const seen = await ccall<{ instance: { project: string } }>(instances, 'getInstance', { id }, admin);
  t.equal(seen.instance.project, 'alpha', 'an admin token sees every project');
  // An operator marks a version inactive (in the catalog table: there is no API for it yet).
  const db = new Database(path.join(control.dataDir, 'coffer.db'));
  db.prepare("INSERT INTO datastore_versions (datastore, name, manager, manager_version, active) VALUES ('mariadb', '10.6', 'mariadb', '10.6', 0)").run();
  db.close();
  await t.rejects(
    ccall(instances, 'createInstance', CreateInstanceRequest.fromPartial({ name: 'old', datastore: 'mariadb', datastoreVersion: '10.6' }), alpha),
    { code: Status.FAILED_PRECONDITION, details: 'mariadb 10.6 is registered but not available (inactive in the catalog)' },
    'an inactive version is refused',
  );
});
