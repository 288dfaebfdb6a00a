// Restore to a point through the control (issue 18, docs/pitr.md), against a
// real coffer-control, real agents and real PostgreSQL: archiving turned on
// through the control's gRPC ArchivingService, the restorable window shown
// by GetInstance, an instance created from a backup plus a time with
// `coffer instance create --restore-time`, and the REST extension
// restorePoint.restoreTime (a malformed time refused at once; a time outside
// the archive refused by the agent before anything starts, naming the window).
import t from 'tap';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startControl, ccall } from '../../support/control.js';
import { waitFor } from '../../support/agent.js';
import { psql } from '../../support/psql.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';
import { cliFor, json, secretFile } from '../../cli/coffer-cli.js';
import { ArchivingServiceClient, type ConfigureArchivingResponse } from '../../../proto/gen/coffer/control/v1/archiving.js';
import type { GetInstanceResponse } from '../../../proto/gen/coffer/control/v1/instances.js';

interface InstanceJson {
  id: string;
  status: string;
  port: number;
}

/** Waits for the wall clock to pass into the next whole second; resolves that second (Unix seconds). */
async function nextSecond(): Promise<number> {
  const s = Math.floor(Date.now() / 1000) + 1;
  await waitFor('the next second', async () => Date.now() >= s * 1000 + 50);
  return s;
}

t.test('restore to a point through the control: gRPC, the coffer CLI and REST', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const cli = cliFor(control.address, token);
  const pw = secretFile(path.dirname(control.dataDir), 'alice.password', 'Al1ce-pass');
  const src = json<InstanceJson>(await cli(['instance', 'create', 'src', '--datastore', 'postgresql', '--database', 'shop', '--user', 'alice', '--password-file', pw, '--json']));
  t.equal(src.status, 'ACTIVE', 'the source is ACTIVE');
  const alice = (port: number, sql: string) => psql(port, 'alice', 'Al1ce-pass', sql, 'shop');

  const archiving = new ArchivingServiceClient(control.address, credentials.createInsecure());
  t.teardown(() => archiving.close());
  const on = await ccall<ConfigureArchivingResponse>(archiving, 'configureArchiving', { instanceId: src.id, enabled: true, retentionDays: 3, archiveTimeoutSeconds: 1 }, token);
  t.equal(on.instance?.archiving?.enabled, true, 'archiving is on through the control');
  t.equal(on.instance?.archiveRetentionDays, 3, 'with the retention asked for');

  t.equal((await alice(src.port, 'CREATE TABLE items (id int PRIMARY KEY, note text)')).code, 0);
  const backup = json<{ id: string; status: string }>(await cli(['backup', 'create', 'src', '--json']));
  t.equal(backup.status, 'COMPLETED', 'a base backup');
  await nextSecond();
  await alice(src.port, "INSERT INTO items SELECT g, 'kept' FROM generate_series(1, 5) g");
  const target = await nextSecond();
  await nextSecond();
  await alice(src.port, 'DELETE FROM items');
  await alice(src.port, "INSERT INTO items VALUES (100, 'after the target')");
  // archive_timeout (1 s) closes the segment: the window grows past the target.
  const shown = await waitFor('the restorable window to pass the target', async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id: src.id }, token);
    const w = r.instance?.restorableWindow;
    return w && w.latestTimeMs >= target * 1000 ? r.instance : undefined;
  }, 120_000);
  t.ok(shown.restorableWindow!.earliestTimeMs > 0 && shown.restorableWindow!.earliestTimeMs <= target * 1000, 'GetInstance shows the window from the backup on');

  const iso = new Date(target * 1000).toISOString().replace('.000Z', 'Z');
  const made = await cli(['instance', 'create', 'back', '--datastore', 'postgresql', '--backup', backup.id, '--restore-time', iso, '--json']);
  t.equal(made.code, 0, made.stderr);
  const back = json<InstanceJson>(made);
  t.equal(back.status, 'ACTIVE', `coffer instance create --restore-time ${iso} is ACTIVE`);
  t.equal((await alice(back.port, 'SELECT count(*) FROM items')).stdout, '5', 'the rows committed before the target are there');
  t.equal((await alice(back.port, 'SELECT count(*) FROM items WHERE id = 100')).stdout, '0', 'nothing after the target is');

  // REST: Trove's restorePoint, extended with restoreTime.
  const request = restClient(control.restPort);
  const post = (restorePoint: object) =>
    request('POST', '/v1.0/shop/instances', { token, body: { instance: { name: 'rest-back', flavorRef: 'small', volume: { size: 1 }, datastore: { type: 'postgresql' }, restorePoint } } });
  const malformed = await post({ backupRef: backup.id, restoreTime: 'yesterday at noon' });
  t.equal(malformed.status, 400, 'a malformed restoreTime is 400');
  t.match(malformed.body.badRequest?.message ?? malformed.text, /restore_time "yesterday at noon" is not a UTC time to the second/, 'naming what is wrong');
  const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const outside = await post({ backupRef: backup.id, restoreTime: later });
  t.equal(outside.status, 400, 'a time after the archive is refused before anything is built (400)');
  t.match(outside.body.badRequest?.message, /outside the archive of backup \S+ instance: restorable from \d{4}-\S+Z to \d{4}-\S+Z \(LSN /, `naming the restorable window: ${outside.body.badRequest?.message}`);
  const inside = await post({ backupRef: backup.id, restoreTime: iso });
  t.equal(inside.status, 200, `REST restorePoint.restoreTime inside the window creates the instance: ${inside.text.slice(0, 120)}`);
  const rest = await waitInstance(request, 'shop', token, String(inside.body.instance.id), (i) => i?.status === 'ERROR' || i?.status === 'ACTIVE', 180_000);
  t.equal(rest?.status, 'ACTIVE', 'and it is restored');
  const restPort = Number(rest?.port);
  t.equal((await alice(restPort, 'SELECT count(*) FROM items')).stdout, '5', 'with the rows before the target');
});
