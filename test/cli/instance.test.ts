// The coffer CLI against a real coffer-control creating real MariaDB
// instances: create (--json, and with progress on stderr), list, show,
// restart, backup create/list/show/delete, delete; catalog lists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { mariadb } from '../support/mariadb-client.js';
import { agentPids, startControl } from '../support/control.js';
import { cliFor, json, secretFile, STACK } from './coffer-cli.js';

interface InstanceJson {
  id: string;
  name: string;
  status: string;
  port: number;
  host: string;
  fault: { step: string; message: string } | null;
}
interface BackupJson {
  id: string;
  status: string;
  instanceId: string;
  sizeBytes: number;
  storage: string;
}

t.test('instances and backups through the coffer CLI', async (t) => {
  const control = await startControl(t);
  const cli = cliFor(control.address, control.token('shop'));
  const pw = secretFile(path.dirname(control.dataDir), 'app.password', 'App-pass-1');

  const ds = await cli(['datastore', 'list']);
  t.equal(ds.code, 0, ds.stderr);
  t.match(ds.stdout, /^NAME\s+DEFAULT VERSION\s+VERSIONS$/m, 'datastore list prints a table');
  t.match(ds.stdout, /^mariadb\s+10\.11/m, 'with mariadb 10.11');
  const flavors = json<Array<{ id: string }>>(await cli(['flavor', 'list', '--json']));
  t.ok(flavors.length > 0 && flavors.every((f) => f.id), 'flavor list --json is an array of flavors');

  const empty = await cli(['instance', 'list']);
  t.equal(empty.code, 0, empty.stderr);
  t.match(empty.stdout, /no instances yet/, 'an empty list says so and how to create one');

  // --json: a script gets one JSON document on stdout, no progress.
  const created = await cli(['instance', 'create', 'orders', '--database', 'orders', '--user', 'app', '--password-file', pw, '--json']);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stderr, '', 'no progress display with --json');
  const a = json<InstanceJson>(created);
  t.equal(a.status, 'ACTIVE', 'create waits until the instance is ACTIVE');
  t.ok(a.port > 0, 'and reports its port');
  const q = await mariadb(a.port, 'app', 'App-pass-1', 'SHOW DATABASES');
  t.equal(q.code, 0, q.stderr);
  t.ok(q.stdout.split('\n').includes('orders'), 'the user created with --user/--password-file reaches --database with the mariadb client');

  // Without --json on a pipe: one progress line per phase on stderr, the instance on stdout.
  const plain = await cli(['instance', 'create', 'reports']);
  t.equal(plain.code, 0, plain.stderr);
  t.match(plain.stderr, /^creating reports$/m, 'progress starts with what is happening');
  t.match(plain.stderr, /\[\s*\d+%\] prepare \(init-datadir\): /, 'the agent\'s Prepare phases are shown with a percentage');
  t.match(plain.stderr, /\[100%\] reports is ACTIVE/, 'and it ends at 100%');
  const percents = [...plain.stderr.matchAll(/\[\s*(\d+)%\]/g)].map((m) => Number(m[1]));
  t.same(percents, [...percents].sort((x, y) => x - y), 'the percentage only moves forward');
  t.match(plain.stdout, /^status\s+ACTIVE$/m, 'the created instance is shown as fields');

  const list = await cli(['instance', 'list']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^ID\s+NAME\s+STATUS\s+DATASTORE\s+ADDRESS\s+ROLE\s+AGENT$/m, 'list prints a table');
  t.match(list.stdout, new RegExp(`^${a.id}\\s+orders\\s+ACTIVE\\s+mariadb 10\\.11\\s+127\\.0\\.0\\.1:${a.port}`, 'm'), 'with the instance, its status and address');
  t.match(list.stdout, /\sreports\s+ACTIVE/, 'and the second instance');
  const listed = json<InstanceJson[]>(await cli(['instance', 'list', '--json']));
  t.same(listed.map((i) => i.name).sort(), ['orders', 'reports'], 'list --json has both');

  const shown = json<InstanceJson>(await cli(['instance', 'show', 'orders', '--json']));
  t.equal(shown.id, a.id, 'show finds an instance by name');
  const byId = await cli(['instance', 'show', a.id]);
  t.match(byId.stdout, /^name\s+orders$/m, 'and by id');

  const restarted = await cli(['instance', 'restart', 'orders', '--json']);
  t.equal(restarted.code, 0, restarted.stderr);
  t.equal(json<InstanceJson>(restarted).status, 'ACTIVE', 'restart waits until ACTIVE again');
  const again = await mariadb(a.port, 'app', 'App-pass-1', 'SELECT 1');
  t.equal(again.code, 0, 'MariaDB answers after the restart');

  // Backups: the agent streams into local storage; the bar is drawn when forced.
  const b = await cli(['backup', 'create', 'orders', '--name', 'nightly'], { env: { COFFER_PROGRESS: 'bar' } });
  t.equal(b.code, 0, b.stderr);
  t.match(b.stderr, /backing up orders \[[█░]+\] \d+%/, 'backup create draws a cli-progress bar');
  t.match(b.stdout, /^status\s+COMPLETED$/m, 'the backup is COMPLETED');
  const backups = json<BackupJson[]>(await cli(['backup', 'list', '--instance', 'orders', '--json']));
  t.equal(backups.length, 1, 'backup list --instance shows it');
  const bk = backups[0]!;
  t.equal(bk.status, 'COMPLETED');
  t.ok(bk.sizeBytes > 0 && bk.storage === 'local', 'with its size, in local storage');
  const bshow = await cli(['backup', 'show', bk.id]);
  t.match(bshow.stdout, /^name\s+nightly$/m, 'backup show prints its fields');
  const btable = await cli(['backup', 'list']);
  t.match(btable.stdout, new RegExp(`^${bk.id}\\s+nightly\\s+${a.id}\\s+COMPLETED\\s+FULL`, 'm'), 'backup list prints a table');

  await t.test('restore: create an instance from the backup', async (t) => {
    const r = await cli(['instance', 'create', 'restored', '--backup', bk.id]);
    t.match(r.stderr, /restoring restored from/, 'the restore shows progress');
    t.equal(r.code, 0, r.stderr);
  });

  const bdel = await cli(['backup', 'delete', bk.id]);
  t.equal(bdel.code, 0, bdel.stderr);
  t.same(json<BackupJson[]>(await cli(['backup', 'list', '--json'])).filter((x) => x.id === bk.id), [], 'a deleted backup is no longer listed');

  const del = await cli(['instance', 'delete', 'reports']);
  t.equal(del.code, 0, del.stderr);
  t.match(del.stderr, /deleting reports/, 'delete shows progress');
  t.match(del.stdout, /instance reports .* deleted/, 'and says when it is done');
  const after = await cli(['instance', 'show', 'reports']);
  t.equal(after.code, 5, 'the deleted instance is not found (exit 5)');
  t.match(after.stderr, /no instance is named "reports"/);
  t.notMatch(after.stderr, STACK, 'no stack trace');
  const reportsId = /^id\s+(\S+)$/m.exec(plain.stdout)![1]!;
  const cmdlines = agentPids(control.dataDir).map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  t.ok(cmdlines.some((c) => c.includes(a.id)), 'the remaining instance\'s agent runs');
  t.notOk(cmdlines.some((c) => c.includes(reportsId)), 'delete stopped the deleted instance\'s agent');
});
