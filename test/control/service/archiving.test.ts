// Restore to a point through the control (issue 18, docs/pitr.md), against a
// real coffer-control, real agents and real PostgreSQL: archiving turned on
// through the control's gRPC ArchivingService, the restorable window shown
// by GetInstance, an instance created from a backup plus a time with
// `coffer instance create --restore-time`, and the REST extension
// restorePoint.restoreTime (a malformed time refused at once; a time outside
// the archive refused by the agent before anything starts, naming the window).
// The same walk then reads the window in every view (REST show, `coffer
// instance show`, the real `openstack database instance show`), and ends
// with the control's retention pass, on a test clock where a day lasts
// seconds: what lies outside the window is deleted from the store, what the
// kept backup needs stays, and with no backup kept time alone decides.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startControl, ccall } from '../../support/control.js';
import { waitFor } from '../../support/agent.js';
import { psql } from '../../support/psql.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';
import { openstack } from '../../support/openstack/cli.js';
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

const lsnValue = (lsn: string): bigint => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

/** A day to the control's retention pass in this test (--archive-retention-day-ms): it runs every 24th of it. */
const DAY_MS = 5000;

t.test('restore to a point through the control: gRPC, the coffer CLI and REST', async (t) => {
  const control = await startControl(t, { extraArgs: ['--archive-retention-day-ms', String(DAY_MS)] });
  const token = control.token('shop');
  const cli = cliFor(control.address, token);
  const pw = secretFile(path.dirname(control.dataDir), 'alice.password', 'Al1ce-pass');
  const src = json<InstanceJson>(await cli(['instance', 'create', 'src', '--datastore', 'postgresql', '--database', 'shop', '--user', 'alice', '--password-file', pw, '--json']));
  t.equal(src.status, 'ACTIVE', 'the source is ACTIVE');
  const alice = (port: number, sql: string) => psql(port, 'alice', 'Al1ce-pass', sql, 'shop');

  const archiving = new ArchivingServiceClient(control.address, credentials.createInsecure());
  t.teardown(() => archiving.close());
  const on = await ccall<ConfigureArchivingResponse>(archiving, 'configureArchiving', { instanceId: src.id, enabled: true, retentionDays: 35, archiveTimeoutSeconds: 1 }, token);
  t.equal(on.instance?.archiving?.enabled, true, 'archiving is on through the control');
  t.equal(on.instance?.archiveRetentionDays, 35, 'with the retention asked for');

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

  // The window in every view of one instance.
  const request = restClient(control.restPort);
  const isoOf = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
  const restShow = await request('GET', `/v1.0/shop/instances/${src.id}`, { token });
  t.equal(restShow.status, 200);
  const view = restShow.body.instance;
  t.match(view, { id: src.id, status: 'ACTIVE', archiving: { enabled: true, retention_days: 35, archive_timeout_seconds: 1 } }, 'the REST view shows archiving');
  t.equal(view.restorable_window?.earliest, isoOf(shown.restorableWindow!.earliestTimeMs), `the REST view shows the earliest restorable point, UTC: ${view.restorable_window?.earliest}`);
  t.ok(Date.parse(view.restorable_window?.latest) >= target * 1000 && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(view.restorable_window?.latest), `and the latest, past the target: ${view.restorable_window?.latest}`);
  t.match(view.restorable_window, { earliest_position: /^[0-9A-F]+\/[0-9A-F]+$/, latest_position: /^[0-9A-F]+\/[0-9A-F]+$/ }, 'with their LSNs');
  const listed = await request('GET', '/v1.0/shop/instances/detail', { token });
  t.notOk('restorable_window' in listed.body.instances.find((i: { id: string }) => i.id === src.id), 'lists do not ask every agent for a window');
  const shownByCli = await cli(['instance', 'show', 'src']);
  t.equal(shownByCli.code, 0, shownByCli.stderr);
  t.match(shownByCli.stdout, new RegExp(`restorable\\s+${view.restorable_window.earliest} to \\S+Z \\(LSN `), `coffer instance show (by name) prints the window:\n${shownByCli.stdout}`);
  t.match(shownByCli.stdout, /archiving\s+on, 35 days kept/, 'and the archiving state');
  const os = openstack(control.restPort, 'shop', token);
  const osShow = await os.json<Record<string, unknown>>('database', 'instance', 'show', src.id);
  t.match(osShow, { id: src.id, name: 'src', status: 'ACTIVE', datastore: 'postgresql' }, 'openstack database instance show still works on an archiving instance');
  t.match(JSON.stringify(osShow.restorable_window), view.restorable_window.earliest, 'and shows the window too');

  // The archived segments before the backup began: outside any backup's needs.
  const walDir = path.join(control.dataDir, 'backups', src.id, 'archive', 'wal');
  const segments = (): Array<{ name: string; end: bigint }> =>
    readdirSync(walDir)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .map((n) => ({ name: n, end: lsnValue((JSON.parse(readFileSync(path.join(walDir, `.${n}.meta.json`), 'utf8')) as { metadata: Record<string, string> }).metadata['coffer-archive-end']!) }));
  const sidecar = JSON.parse(readFileSync(path.join(control.dataDir, 'backups', src.id, `${backup.id}.backup.metadata.json`), 'utf8')) as { startLsn?: string; start_lsn?: string };
  const backupStart = lsnValue(sidecar.startLsn ?? sidecar.start_lsn ?? '');
  const before = segments().filter((x) => x.end <= backupStart);
  t.ok(before.length > 0, `segments before the backup began are archived: ${before.map((x) => x.name).join(', ')}`);

  const iso = new Date(target * 1000).toISOString().replace('.000Z', 'Z');
  const made = await cli(['instance', 'create', 'back', '--datastore', 'postgresql', '--backup', backup.id, '--restore-time', iso, '--json']);
  t.equal(made.code, 0, made.stderr);
  const back = json<InstanceJson>(made);
  t.equal(back.status, 'ACTIVE', `coffer instance create --restore-time ${iso} is ACTIVE`);
  t.equal((await alice(back.port, 'SELECT count(*) FROM items')).stdout, '5', 'the rows committed before the target are there');
  t.equal((await alice(back.port, 'SELECT count(*) FROM items WHERE id = 100')).stdout, '0', 'nothing after the target is');

  // REST: Trove's restorePoint, extended with restoreTime.
  const post = (restorePoint: object) =>
    request('POST', '/v1.0/shop/instances', { token, body: { instance: { name: 'rest-back', flavorRef: 'small', volume: { size: 1 }, datastore: { type: 'postgresql' }, restorePoint } } });
  const malformed = await post({ backupRef: backup.id, restoreTime: 'yesterday at noon' });
  t.equal(malformed.status, 400, 'a malformed restoreTime is 400');
  t.match(malformed.body.badRequest?.message ?? malformed.text, /restore_time "yesterday at noon" is not a UTC time to the second/, 'naming what is wrong');
  const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const outside = await post({ backupRef: backup.id, restoreTime: later });
  t.equal(outside.status, 400, 'a time after the archive is refused before anything is built (400)');
  t.match(outside.body.badRequest?.message, /outside the archive of backup \S+ instance: restorable from \d{4}-\S+Z to \d{4}-\S+Z \(LSN /, `naming the restorable window: ${outside.body.badRequest?.message}`);
  const tooEarly = await post({ backupRef: backup.id, restoreTime: isoOf(Date.parse(view.restorable_window.earliest) - 1000) });
  t.equal(tooEarly.status, 400, 'a second before the window the view shows is refused');
  t.match(tooEarly.body.badRequest?.message, `restorable from ${view.restorable_window.earliest} to `, 'naming the window the view shows');
  const inside = await post({ backupRef: backup.id, restoreTime: iso });
  t.equal(inside.status, 200, `REST restorePoint.restoreTime inside the window creates the instance: ${inside.text.slice(0, 120)}`);
  const rest = await waitInstance(request, 'shop', token, String(inside.body.instance.id), (i) => i?.status === 'ERROR' || i?.status === 'ACTIVE', 180_000);
  t.equal(rest?.status, 'ACTIVE', 'and it is restored');
  const restPort = Number(rest?.port);
  t.equal((await alice(restPort, 'SELECT count(*) FROM items')).stdout, '5', 'with the rows before the target');

  // Retention: the control's pass, a day being DAY_MS here. Everything
  // archived so far is older than one day once a pass looks a day after now.
  const passAfter = async (ms: number): Promise<number> =>
    waitFor(`a retention pass after ${isoOf(ms)}`, async () => {
      for (const line of control.current!.logs) {
        if (!line.includes('"msg":"archive retention pass done"')) continue;
        const at = (JSON.parse(line) as { passAtMs: number }).passAtMs;
        if (at >= ms) return at;
      }
      return undefined;
    }, 120_000);
  const kept = segments().filter((x) => x.end > backupStart);
  const oneDay = await ccall<ConfigureArchivingResponse>(archiving, 'configureArchiving', { instanceId: src.id, enabled: true, retentionDays: 1, archiveTimeoutSeconds: 1 }, token);
  t.equal(oneDay.instance?.archiveRetentionDays, 1, 'retention set to one day');
  await passAfter(Date.now() + DAY_MS);
  const left = new Set(segments().map((x) => x.name));
  t.same(before.filter((x) => left.has(x.name)), [], 'the segments before the backup began are gone from the store: outside the window, needed by no backup');
  t.same(kept.filter((x) => !left.has(x.name)), [], `every segment the kept backup needs stays, days old as it is (${kept.length})`);
  const after = await request('GET', `/v1.0/shop/instances/${src.id}`, { token });
  t.equal(after.body.instance.restorable_window?.earliest, view.restorable_window.earliest, 'the window still starts at the backup');

  // No backup kept: time alone decides; the newest segment stays (where the window ends).
  const deleted = await cli(['backup', 'delete', backup.id]);
  t.equal(deleted.code, 0, deleted.stderr);
  await passAfter(Date.now());
  const remaining = new Set(segments().map((x) => x.name));
  const newest = [...remaining].sort().at(-1)!;
  t.same(kept.filter((x) => remaining.has(x.name) && x.name !== newest), [], `with no backup kept, time alone decides: the backup's segments are gone but the newest (left: ${[...remaining].join(', ')})`);
  const none = await request('GET', `/v1.0/shop/instances/${src.id}`, { token });
  t.equal(none.body.instance.restorable_window, null, 'and nothing is restorable: no backup to start from');
});
