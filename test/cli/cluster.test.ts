// coffer cluster against a real coffer-control: the refusals a person meets
// (each with its exit status and a sentence, no stack trace), then ONE real
// 3-node MariaDB Galera cluster: create following every member's progress
// live (WatchCluster), list, show, refusals that need a cluster (a shrink
// below 3 members, a member that is not one, deleting a member alone), and
// delete. Grow and shrink run their workflows in the OpenStack CLI test
// (test/control/rest/cluster-openstack-cli.test.ts) on its one cluster.
import t from 'tap';
import { startControl } from '../support/control.js';
import { cliFor, json, STACK } from './coffer-cli.js';

t.setTimeout(900_000);

interface ClusterJson {
  id: string;
  name: string;
  task: string;
  datastore: string;
  instances: Array<{ id: string; name: string; status: string }>;
}

t.test('coffer cluster create, list, show, delete and their refusals', async (t) => {
  // The walk's one cluster is Redis's (three masters build in seconds); Galera's
  // go through the control's and the OpenStack CLI's tests.
  const control = await startControl(t, { extraArgs: ['--cluster-member-override', 'maxmemory=67108864', '--cluster-member-override', 'cluster-node-timeout=2000'] });
  const cli = cliFor(control.address, control.token('shop'));
  const refused = async (args: string[], code: number, message: RegExp, what: string): Promise<void> => {
    const r = await cli(args);
    t.equal(r.code, code, `${what}: exit ${code} (${r.stderr.trim()})`);
    t.match(r.stderr, message, `${what}: says why`);
    t.notMatch(r.stderr, STACK, `${what}: no stack trace`);
  };

  // Refused before anything is sent, or by the control with nothing recorded.
  await refused(['cluster', 'create', 'g0'], 2, /--datastore is required/, 'no --datastore');
  await refused(['cluster', 'create', 'g0', '--datastore', 'mariadb', '--count', '0'], 2, /--count must be a whole number from 1 to 64, got "0"/, '--count 0');
  await refused(['cluster', 'create', 'g0', '--datastore', 'mariadb', '--size', 'big'], 2, /--size must be a whole number/, '--size big');
  await refused(['cluster', 'create', 'g0', '--datastore', 'redis', '--role', 'leader'], 2, /--role must be master or replica/, '--role leader');
  await refused(['cluster', 'create', 'g0', '--datastore', 'mariadb', '--count', '2'], 3, /3/, 'a 2-member Galera cluster');
  await refused(['cluster', 'create', 'g0', '--datastore', 'nosuch'], 3, /nosuch/, 'an unknown datastore');
  await refused(['cluster', 'show', 'nosuch'], 5, /no cluster is named "nosuch"/, 'show an unknown cluster');
  await refused(['cluster', 'grow', 'nosuch'], 5, /no cluster is named "nosuch"/, 'grow an unknown cluster');
  const empty = await cli(['cluster', 'list']);
  t.match(empty.stdout, /no clusters yet/, 'cluster list with none says how to make one');

  // ONE cluster; create follows every member's progress on stderr.
  const made = await cli(['cluster', 'create', 'g1', '--datastore', 'redis', '--flavor', 'small', '--size', '1'], { env: { COFFER_PROGRESS: 'plain' }, timeoutMs: 900_000 });
  t.equal(made.code, 0, `cluster create: exit 0 (${made.stderr.slice(-2000)})`);
  for (const n of [1, 2, 3]) t.match(made.stderr, new RegExp(`g1-member-${n}: ACTIVE`), `the progress shows member ${n} becoming ACTIVE`);
  t.match(made.stderr, /^ {2}\[ *\d+%\] .+: .+$/m, 'and the task\'s steps with their progress');
  t.match(made.stdout, /task +NONE/, 'then the cluster, its task NONE');

  const list = await cli(['cluster', 'list']);
  t.match(list.stdout, /g1 +redis 7\.0 +NONE +3 ACTIVE/, 'cluster list: one row, its members by status');
  const shown = json<ClusterJson>(await cli(['cluster', 'show', 'g1', '--json']));
  t.equal(shown.task, 'NONE', 'show --json: the task by its short name');
  t.same(shown.instances.map((i) => [i.name, i.status]), [['g1-member-1', 'ACTIVE'], ['g1-member-2', 'ACTIVE'], ['g1-member-3', 'ACTIVE']], 'show --json: the members');

  await refused(['cluster', 'shrink', 'g1', 'nosuch'], 2, /"nosuch" is not a member of cluster g1; its members: g1-member-1, g1-member-2, g1-member-3/, 'shrink by a name that is no member');
  await refused(['cluster', 'shrink', 'g1', 'g1-member-3'], 3, /3/, 'shrink below 3 members');
  const alone = await cli(['instance', 'delete', 'g1-member-1']);
  t.not(alone.code, 0, `deleting a member alone is refused (${alone.stderr.trim()})`);
  t.match(alone.stderr, /g1/, 'naming its cluster');

  const del = await cli(['cluster', 'delete', 'g1'], { timeoutMs: 600_000 });
  t.equal(del.code, 0, `cluster delete: exit 0 (${del.stderr.trim()})`);
  t.match(del.stdout, /cluster g1 \(.+\) deleted/, 'says it is deleted');
  t.match((await cli(['cluster', 'list'])).stdout, /no clusters yet/, 'and the list is empty');
  t.match((await cli(['instance', 'list'])).stdout, /no instances yet/, 'with no member left');
});
