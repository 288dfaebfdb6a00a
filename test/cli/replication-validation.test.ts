// The coffer CLI's replication commands refusing what they must, against a
// real coffer-control with one real source (Redis) and one replica record
// (the refusals do not depend on its build): each with its exit status and
// a sentence a person can act on. Show and list give role, source and replicas.
import t from 'tap';
import { startControl } from '../support/control.js';
import { cliFor, json, STACK } from './coffer-cli.js';

t.setTimeout(300_000);

interface InstanceJson {
  id: string;
  name: string;
  status: string;
  role: string;
  replicaOf: { id: string; name: string } | null;
  replicas: Array<{ id: string; name: string; lagSeconds: number }>;
}

t.test('coffer instance create --replica-of, promote, eject and detach refuse bad requests', async (t) => {
  const control = await startControl(t);
  const cli = cliFor(control.address, control.token('shop'));

  const made = await cli(['instance', 'create', 'src', '--datastore', 'redis', '--json']);
  t.equal(made.code, 0, made.stderr);
  const src = json<InstanceJson>(made);
  t.equal(src.status, 'ACTIVE', 'the source is ACTIVE');
  t.equal(src.role, 'standalone', 'and standalone');

  const refused = async (args: string[], code: number, message: RegExp, what: string): Promise<void> => {
    const r = await cli(args);
    t.equal(r.code, code, `${what}: exit ${code} (${r.stderr.trim()})`);
    t.match(r.stderr, message, `${what}: says why`);
    t.notMatch(r.stderr, STACK, `${what}: no stack trace`);
  };
  await refused(['instance', 'create', 'r', '--replica-of', 'src', '--flavor', 'small'], 2, /--flavor cannot be given with --replica-of/, '--flavor beside --replica-of');
  await refused(['instance', 'create', 'r', '--replica-of', 'src', '--database', 'orders'], 2, /--database cannot be given with --replica-of/, '--database beside --replica-of');
  await refused(['instance', 'create', 'r', '--replica-of', 'src', '--replica-count', '4'], 2, /--replica-count must be 1, 2 or 3, got "4"/, '--replica-count 4');
  await refused(['instance', 'create', 'r', '--replica-of', 'src', '--replica-count', '0'], 2, /--replica-count must be 1, 2 or 3/, '--replica-count 0');
  await refused(['instance', 'create', 'r', '--replica-of', 'src', '--replica-count', 'two'], 2, /--replica-count must be 1, 2 or 3, got "two"/, '--replica-count two');
  await refused(['instance', 'create', 'r', '--replica-count', '2'], 2, /add --replica-of/, '--replica-count without --replica-of');
  await refused(['instance', 'create', 'r', '--auto-failover'], 2, /add --replica-of/, '--auto-failover without --replica-of');
  await refused(['instance', 'create', 'r', '--replica-of', 'nosuch'], 5, /no instance is named "nosuch"/, 'an unknown source');
  await refused(['instance', 'create', 'r', '--replica-of', '00000000-0000-0000-0000-000000000000'], 5, /does not exist/, 'an unknown source id');
  await refused(['instance', 'promote', 'src'], 3, /is not a replica/, 'promote a standalone');
  await refused(['instance', 'eject', 'src'], 3, /has no replicas/, 'eject a standalone');
  await refused(['instance', 'detach', 'src'], 3, /is not a replica/, 'detach a standalone');
  await refused(['instance', 'promote', 'nosuch'], 5, /no instance is named "nosuch"/, 'promote an unknown instance');

  const r1 = await cli(['instance', 'create', 'r1', '--replica-of', 'src', '--no-wait', '--json']);
  t.equal(r1.code, 0, r1.stderr);
  const rep = json<InstanceJson>(r1);
  t.equal(rep.role, 'replica', 'the new replica\'s role');
  t.equal(rep.replicaOf?.id, src.id, 'and its source');

  await refused(['instance', 'create', 'rr', '--replica-of', 'r1', '--no-wait'], 4, /not allowed: .*is a replica of .*a replica cannot have replicas/, 'a replica of a replica');
  await refused(['instance', 'eject', 'src'], 3, /cannot be ejected: its agent was heard \d+ s ago/, 'eject a source whose agent is heard');
  await refused(['instance', 'delete', 'src'], 6, /promote one of them to replica source, or detach them, before deleting it/, 'delete a source with replicas');
  await refused(['instance', 'promote', 'r1'], 6, /every member of the replication set ACTIVE/, 'promote while the replica builds');
  await refused(['instance', 'detach', 'r1'], 6, /detach needs it ACTIVE/, 'detach while the replica builds');

  const list = await cli(['instance', 'list']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^ID\s+NAME\s+STATUS\s+DATASTORE\s+ADDRESS\s+ROLE\s+AGENT$/m, 'list has a ROLE column');
  t.match(list.stdout, new RegExp(`^${src.id}\\s+src\\s+ACTIVE\\s+redis 7\\.0\\s+\\S+\\s+source of 1\\s`, 'm'), 'the source: "source of 1"');
  t.match(list.stdout, new RegExp(`^${rep.id}\\s+r1\\s+\\S+.*replica of src\\s`, 'm'), 'the replica: "replica of src"');
  const shownSrc = await cli(['instance', 'show', 'src']);
  t.match(shownSrc.stdout, /^role\s+source$/m, 'show: the source\'s role');
  t.match(shownSrc.stdout, new RegExp(`^replicas\\s+r1 \\(${rep.id}\\) \\S+, lag `, 'm'), 'its replicas, with status and lag');
  t.match(shownSrc.stdout, /^auto failover\s+off$/m, 'and auto failover (off by default)');
  const shownRep = await cli(['instance', 'show', 'r1']);
  t.match(shownRep.stdout, new RegExp(`^source\\s+src \\(${src.id}\\)$`, 'm'), 'show: the replica\'s source');
  t.match(shownRep.stdout, /^lag\s+\S/m, 'and its lag');
  const srcJson = json<InstanceJson>(await cli(['instance', 'show', 'src', '--json']));
  t.same(srcJson.replicas.map((x) => x.id), [rep.id], 'show --json: replicas');
});
