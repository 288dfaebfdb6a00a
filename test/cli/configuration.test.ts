// coffer configuration: groups made, shown, changed and deleted with the
// coffer CLI against a real control; a value the rules refuse exits 3 with
// the parameter and its range named, and nothing is kept; a real MariaDB
// created with a group runs with its values until it is detached. (Dynamic
// and static changes on real servers: test/control/rest/configurations.test.ts.)
import t from 'tap';
import { startControl } from '../support/control.js';
import { cliFor } from './coffer-cli.js';

t.test('coffer configuration commands', async (t) => {
  const control = await startControl(t);
  const cli = cliFor(control.address, control.token('ops'));
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args]);
    t.equal(r.code, 0, `coffer ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  const params = await json(['configuration', 'parameters', 'postgresql']);
  t.same(params.find((p: { name: string }) => p.name === 'work_mem')?.min, '64kB', 'parameters: bounds with their unit');

  const made = await json(['configuration', 'create', 'oltp', '--datastore', 'postgresql', '--set', 'work_mem=8mb', '--set', 'max_connections=50']);
  t.same(made.values, { work_mem: '8MB', max_connections: '50' }, 'create: values normalised as the datastore takes them');

  const bad = await cli(['configuration', 'set', 'oltp', '--set', 'max_connections=5']);
  t.equal(bad.code, 3, 'a value out of range exits 3');
  t.match(bad.stderr, /max_connections must be between 10 and 10000, got "5"/);
  const unknown = await cli(['configuration', 'create', 'x', '--set', 'no_such=1']);
  t.equal(unknown.code, 3);
  t.match(unknown.stderr, /unknown configuration parameter "no_such" for mariadb 10\.11/);

  const changed = await json(['configuration', 'set', 'oltp', '--set', 'work_mem=16MB', '--description', 'order entry']);
  t.same([changed.values, changed.description], [{ work_mem: '16MB', max_connections: '50' }, 'order entry'], 'set merges');
  const replaced = await json(['configuration', 'set', 'oltp', '--replace', '--set', 'work_mem=4MB']);
  t.same(replaced.values, { work_mem: '4MB' }, 'set --replace replaces');
  t.same((await json(['configuration', 'list'])).map((g: { name: string }) => g.name), ['oltp'], 'list: nothing refused was kept');

  const nowhere = await cli(['configuration', 'attach', 'no-such-instance', 'oltp']);
  t.equal(nowhere.code, 5, 'attach to an unknown instance exits 5');
  await json(['configuration', 'delete', 'oltp']);
  t.same(await json(['configuration', 'list']), [], 'delete');

  // A real MariaDB created with a group, then detached from it.
  await json(['configuration', 'create', 'small', '--set', 'max_connections=60', '--set', 'long_query_time=2.5']);
  await json(['instance', 'create', 'db1', '--configuration', 'small']);
  const inForce = await json(['configuration', 'default', 'db1']);
  t.same([inForce.max_connections, inForce.long_query_time], ['60', '2.500000'], 'configuration default: the server runs with the group\'s values');
  const shown = await json(['configuration', 'show', 'small']);
  t.same(shown.instances.map((i: { name: string; state: string }) => [i.name, i.state]), [['db1', 'applied']], 'show: each instance and its outcome');
  const mismatch = await cli(['configuration', 'attach', 'db1', 'nope']);
  t.equal(mismatch.code, 5, 'attach of an unknown group exits 5');
  const held = await cli(['configuration', 'delete', 'small']);
  t.equal(held.code, 6, 'delete of an attached group exits 6');
  await json(['configuration', 'detach', 'db1']);
  t.equal((await json(['configuration', 'default', 'db1'])).max_connections, '151', 'detach: back to the template\'s value');
});
