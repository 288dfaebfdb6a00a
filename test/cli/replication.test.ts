// Replication through the coffer CLI against a real coffer-control and
// real Redis instances: create --replica-of --replica-count 2
// --auto-failover with its progress, show and list (role, source, replicas,
// lag), promote and detach; the data checked with redis-cli.
import t from 'tap';
import path from 'node:path';
import { waitFor } from '../support/agent.js';
import { startControl } from '../support/control.js';
import { redisCli } from '../support/redis-cli.js';
import { cliFor, json, secretFile } from './coffer-cli.js';

t.setTimeout(900_000);

interface Ref {
  id: string;
  name: string;
  status: string;
  lagSeconds: number;
}
interface InstanceJson {
  id: string;
  name: string;
  status: string;
  port: number;
  role: string;
  replicaOf: Ref | null;
  replicas: Ref[];
  lagSeconds: number;
  autoFailover: boolean;
}

t.test('coffer instance create --replica-of, show, list, promote, detach', async (t) => {
  const control = await startControl(t);
  const cli = cliFor(control.address, control.token('shop'));
  const pw = secretFile(path.dirname(control.dataDir), 'root.password', 'R00t-pass-7');
  const show = async (ref: string) => json<InstanceJson>(await cli(['instance', 'show', ref, '--json']));
  // `root enable` once per instance, again only when the datastore refuses
  // the password: the checks below poll through this helper.
  const enabled = new Set<string>();
  const redis = async (ref: string, ...args: string[]) => {
    const port = (await show(ref)).port;
    if (enabled.has(ref)) {
      const r = await redisCli(port, '', 'R00t-pass-7', args, { ca: control.datastoreCa });
      if (!/WRONGPASS|NOAUTH|AUTH failed/.test(r.stdout + r.stderr)) return r;
    }
    const r = await cli(['root', 'enable', ref, '--password-file', pw]);
    if (r.code !== 0) throw new Error(r.stderr);
    enabled.add(ref);
    return redisCli(port, '', 'R00t-pass-7', args, { ca: control.datastoreCa });
  };

  const made = await cli(['instance', 'create', 'src', '--datastore', 'redis', '--json']);
  t.equal(made.code, 0, 'the source is created', { stderr: made.stderr });
  t.equal((await redis('src', 'SET', 'greeting', 'from the source')).stdout.trim(), 'OK', 'a key on the source');

  // Progress on stderr (a pipe: one line per phase), the replicas on stdout.
  const created = await cli(['instance', 'create', 'rep', '--replica-of', 'src', '--replica-count', '2', '--auto-failover']);
  t.equal(created.code, 0, 'create --replica-of exits 0', { stderr: created.stderr });
  t.match(created.stderr, /^creating 2 replicas \(rep-1, rep-2\) of src$/m, 'progress says what is being made');
  t.match(created.stderr, /\[\s*\d+%\] snapshot/, 'the snapshot step is shown');
  t.match(created.stderr, /\[\s*\d+%\] build.*rep-[12]: /, 'and each replica\'s build, by name');
  const percents = [...created.stderr.matchAll(/\[\s*(\d+)%\]/g)].map((m) => Number(m[1]));
  t.same(percents, [...percents].sort((x, y) => x - y), 'the percentage only moves forward');
  t.match(created.stdout, /^ID\s+NAME\s+STATUS\s+DATASTORE\s+ADDRESS\s+ROLE\s+AGENT$/m, 'the replicas as a table');
  t.match(created.stdout, /\srep-1\s+ACTIVE\s.*replica of src/, 'rep-1 ACTIVE, a replica of src');
  t.match(created.stdout, /\srep-2\s+ACTIVE\s.*replica of src/, 'rep-2 too');

  const src = await show('src');
  t.equal(src.role, 'source', 'show --json: the source\'s role');
  t.same(src.replicas.map((r) => r.name).sort(), ['rep-1', 'rep-2'], 'its replicas');
  t.equal(src.autoFailover, true, '--auto-failover is on for the set');
  t.equal((await redis('rep-1', 'GET', 'greeting')).stdout.trim(), 'from the source', 'a replica has the source\'s data');
  const lagged = await waitFor('rep-1 reports its lag', async () => {
    const r = await cli(['instance', 'show', 'rep-1']);
    return /^lag\s+\d+(\.\d+)? s behind/m.test(r.stdout) ? r : false;
  }, 60_000);
  t.match(lagged.stdout, /^source\s+src \(/m, 'show: the replica\'s source');
  t.match(lagged.stdout, /^lag\s+\d+(\.\d+)? s behind, \d+ bytes$/m, 'and its lag in seconds and bytes');
  const list = await cli(['instance', 'list']);
  t.match(list.stdout, /\ssrc\s+ACTIVE\s.*source of 2/, 'list: src is "source of 2"');

  const promoted = await cli(['instance', 'promote', 'rep-1']);
  t.equal(promoted.code, 0, 'promote exits 0', { stderr: promoted.stderr });
  t.match(promoted.stderr, /^promoting rep-1$/m, 'promote shows its progress');
  t.match(promoted.stdout, /^role\s+source$/m, 'and ends with rep-1 the source');
  const old = await show('src');
  t.equal(old.role, 'replica', 'the old source is a replica now');
  t.equal(old.replicaOf?.name, 'rep-1', 'of rep-1');
  t.equal((await redis('rep-1', 'SET', 'after', 'promote')).stdout.trim(), 'OK', 'the new source takes writes');
  await waitFor('the old source follows rep-1', async () => (await redis('src', 'GET', 'after')).stdout.trim() === 'promote', 60_000);
  t.match((await redis('src', 'SET', 'x', '1')).stdout, /READONLY/, 'the old source refuses writes');

  const detached = await cli(['instance', 'detach', 'rep-2', '--json']);
  t.equal(detached.code, 0, 'detach exits 0', { stderr: detached.stderr });
  const d = json<InstanceJson>(detached);
  t.equal(d.role, 'standalone', 'detach --json: rep-2 is standalone');
  t.equal(d.status, 'ACTIVE', 'and ACTIVE');
  t.equal((await redis('rep-2', 'SET', 'mine', '1')).stdout.trim(), 'OK', 'and writable');
  t.same((await show('rep-1')).replicas.map((r) => r.name), ['src'], 'rep-1 keeps only src as its replica');

  const del = await cli(['instance', 'delete', 'rep-1']);
  t.equal(del.code, 6, 'deleting the source with a replica: exit 6');
  t.match(del.stderr, /promote one of them to replica source, or detach them, before deleting it/, 'saying what to do first');
});
