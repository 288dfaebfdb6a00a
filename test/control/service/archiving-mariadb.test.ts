// MariaDB restore to a point through the control (issue 18, docs/pitr.md),
// against a real coffer-control, real agents and real MariaDB servers:
// binlog archiving turned on through the control's gRPC ArchivingService,
// the restorable window in GetInstance, and instances created from a backup
// plus a second (`coffer instance create --restore-time`) and plus a GTID
// (`--restore-gtid`), checked with the mariadb client as the tenant's user.
import t from 'tap';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { startControl, ccall } from '../../support/control.js';
import { waitFor } from '../../support/agent.js';
import { mariadb } from '../../support/mariadb-client.js';
import { cliFor, json, secretFile } from '../../cli/coffer-cli.js';
import { ArchivingServiceClient, type ConfigureArchivingResponse } from '../../../proto/gen/coffer/control/v1/archiving.js';
import type { GetInstanceResponse } from '../../../proto/gen/coffer/control/v1/instances.js';
import { reached } from '../../../agent/managers/mysql-family/replication/gtid.js';

interface InstanceJson {
  id: string;
  status: string;
  port: number;
}

async function nextSecond(): Promise<number> {
  const s = Math.floor(Date.now() / 1000) + 1;
  await waitFor('the next second', async () => Date.now() >= s * 1000 + 50);
  return s;
}

t.test('MariaDB restore to a second and to a GTID through the control and the coffer CLI', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const cli = cliFor(control.address, token);
  const pw = secretFile(path.dirname(control.dataDir), 'alice.password', 'Al1ce-pass');
  const src = json<InstanceJson>(await cli(['instance', 'create', 'src', '--datastore', 'mariadb', '--database', 'shop', '--user', 'alice', '--password-file', pw, '--json']));
  t.equal(src.status, 'ACTIVE', 'the source is ACTIVE');
  const alice = async (port: number, sql: string): Promise<string> => {
    const r = await mariadb(port, 'alice', 'Al1ce-pass', sql, 'shop');
    if (r.code !== 0) throw new Error(`SQL failed: ${r.stderr}`);
    return r.stdout.trim();
  };

  const archiving = new ArchivingServiceClient(control.address, credentials.createInsecure());
  t.teardown(() => archiving.close());
  const on = await ccall<ConfigureArchivingResponse>(archiving, 'configureArchiving', { instanceId: src.id, enabled: true, retentionDays: 3, archiveTimeoutSeconds: 1 }, token);
  t.equal(on.instance?.archiving?.enabled, true, 'binlog archiving is on through the control');

  await alice(src.port, 'CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(40))');
  const backup = json<{ id: string; status: string }>(await cli(['backup', 'create', 'src', '--json']));
  t.equal(backup.status, 'COMPLETED', 'a base backup');
  await nextSecond();
  await alice(src.port, "INSERT INTO items SELECT seq, 'kept' FROM seq_1_to_5");
  const target = await nextSecond();
  await nextSecond();
  await alice(src.port, 'DELETE FROM items WHERE id = 5');
  const gtid = await alice(src.port, 'SELECT @@GLOBAL.gtid_binlog_pos');
  await alice(src.port, "INSERT INTO items VALUES (100, 'after the target')");
  const last = await alice(src.port, 'SELECT @@GLOBAL.gtid_binlog_pos');
  // The archive timeout (1 s) rotates the binlog: the window grows past the delete.
  const shown = await waitFor('the restorable window to pass the delete', async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id: src.id }, token);
    const w = r.instance?.restorableWindow;
    return w && w.latestTimeMs >= target * 1000 && w.latestPosition && reached(last, w.latestPosition) ? r.instance : undefined;
  }, 120_000);
  t.ok(shown.restorableWindow!.earliestTimeMs > 0 && shown.restorableWindow!.earliestTimeMs <= target * 1000, 'GetInstance shows the window from the backup on');
  t.match(shown.restorableWindow!.latestPosition, /^0-\d+-\d+$/, 'as GTID positions too');

  const iso = new Date(target * 1000).toISOString().replace('.000Z', 'Z');
  const byTime = await cli(['instance', 'create', 'back', '--datastore', 'mariadb', '--backup', backup.id, '--restore-time', iso, '--json']);
  t.equal(byTime.code, 0, byTime.stderr);
  const back = json<InstanceJson>(byTime);
  t.equal(back.status, 'ACTIVE', `coffer instance create --restore-time ${iso} is ACTIVE`);
  t.equal(await alice(back.port, 'SELECT GROUP_CONCAT(id ORDER BY id) FROM items'), '1,2,3,4,5', 'the rows of the target second are there, nothing after it');

  const byGtid = await cli(['instance', 'create', 'back-gtid', '--datastore', 'mariadb', '--backup', backup.id, '--restore-gtid', gtid, '--json']);
  t.equal(byGtid.code, 0, byGtid.stderr);
  const backGtid = json<InstanceJson>(byGtid);
  t.equal(await alice(backGtid.port, 'SELECT GROUP_CONCAT(id ORDER BY id) FROM items'), '1,2,3,4', `--restore-gtid ${gtid}: the delete applied, nothing after it`);
});
