// Replication through the real OpenStack CLI (python-troveclient 8.0.0,
// unchanged) against a real coffer-control and real Redis instances:
// `database instance create --replica-of [--replica-count 2]`, `list` (its
// Role column), `show` (replica_of, replicas), `eject` refused while the
// source is alive (the CLI's own error output), `promote`, `detach`, and
// `delete` of a source refused while it has replicas, and `eject` of a
// source that is gone (kill -9 of its agent and redis-server), which comes
// back as a replica. Effects are checked in the datastores with redis-cli.
import t from 'tap';
import { startControl } from '../../support/control.js';
import { openstack } from '../../support/openstack/cli.js';
import { restClient, waitInstance, type RestRequest } from '../../support/openstack/rest.js';
import { redisCli } from '../../support/redis-cli.js';
import { killInstance, restartAgent } from '../../support/replication.js';

type Row = Record<string, unknown>;

// Four Redis instances built, a switchover, a detach and some twenty CLI calls.
t.setTimeout(900_000);

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

const settled = (i: Row | null): boolean => (i?.status === 'ACTIVE' && !i.fault) || i?.status === 'ERROR';

t.test('openstack database instance create --replica-of, list, show, eject, promote, detach', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const os = openstack(control.restPort, 'shop', token);
  const request: RestRequest = restClient(control.restPort);
  const get = async (id: string): Promise<Row> => (await request('GET', `/v1.0/shop/instances/${id}`, { token })).body.instance as Row;
  const password = async (id: string): Promise<string> => String((await os.json<Row>('database', 'root', 'enable', id)).password);
  // One `root enable` per instance, again only when the datastore refuses
  // the password it gave: each is a run of the OpenStack CLI (~1.8 s of CPU),
  // and the checks below poll through this helper.
  const passwords = new Map<string, string>();
  const redis = async (id: string, ...args: string[]) => {
    const i = await get(id);
    const known = passwords.get(id);
    if (known !== undefined) {
      const r = await redisCli(Number(i.port), '', known, args, { ca: control.datastoreCa });
      if (!/WRONGPASS|NOAUTH|AUTH failed/.test(r.stdout + r.stderr)) return r;
    }
    passwords.set(id, await password(id));
    return redisCli(Number(i.port), '', passwords.get(id)!, args, { ca: control.datastoreCa });
  };

  const created = await os.json<Row>('database', 'instance', 'create', 'src', '--flavor', 'small', '--size', '1', '--datastore', 'redis', '--datastore-version', '7.0');
  const src = String(created.id);
  const ready = await waitInstance(request, 'shop', token, src, settled, 180_000);
  t.equal(ready!.status, 'ACTIVE', 'the source is ACTIVE');
  const set = await redis(src, 'SET', 'greeting', 'written before the replicas');
  t.equal(set.stdout.trim(), 'OK', `a key on the source: ${set.stderr}`);

  // One replica, exactly as the CLI sends it (replica_count 1 and access ride along).
  const one = await os.json<Row>('database', 'instance', 'create', 'r1', '--replica-of', 'src');
  t.equal(one.name, 'r1', 'create --replica-of: the replica, named as asked');
  t.equal(one.replica_of, src, 'its replica_of is the source');
  t.equal(one.status, 'BUILD', 'building');
  const r1 = String(one.id);
  // Two more, by id, with --replica-count 2: named NAME-1, NAME-2.
  const two = await os.json<Row>('database', 'instance', 'create', 'rs', '--replica-of', src, '--replica-count', '2');
  t.equal(two.name, 'rs-1', 'create --replica-count 2: the first is NAME-1');
  const listedIds = async () => (await os.json<Row[]>('database', 'instance', 'list')).map((i) => [i.Name, i.ID] as const);
  const rs2 = String(new Map(await listedIds()).get('rs-2') ?? '');
  t.ok(rs2, 'and rs-2 exists too');
  const rs1 = String(two.id);
  for (const id of [r1, rs1, rs2]) {
    const r = await waitInstance(request, 'shop', token, id, settled, 300_000);
    t.equal(r!.status, 'ACTIVE', `replica ${String(r!.name)} is ACTIVE${r!.fault ? ` (${JSON.stringify(r!.fault)})` : ''}`);
  }

  // The data: copied, followed, and the replicas refuse writes.
  t.equal((await redis(r1, 'GET', 'greeting')).stdout.trim(), 'written before the replicas', 'the replica has the source\'s data');
  await redis(src, 'SET', 'later', 'written after');
  for (const [name, id] of [['r1', r1], ['rs-1', rs1], ['rs-2', rs2]]) {
    const v = await until(`replica ${name} has the later write`, async () => ((await redis(id, 'GET', 'later')).stdout.trim() === 'written after' ? true : undefined), 60_000);
    t.ok(v, `a write on the source reaches replica ${name} within seconds`);
  }
  const refused = await redis(r1, 'SET', 'nope', '1');
  t.match(refused.stdout + refused.stderr, /READONLY/, 'a replica refuses writes');

  // list: the Role column; show: replica_of and replicas.
  const list = await os.json<Row[]>('database', 'instance', 'list');
  const role = new Map(list.map((i) => [String(i.Name), String(i.Role)]));
  t.same(Object.fromEntries(role), { src: 'primary', r1: 'replica', 'rs-1': 'replica', 'rs-2': 'replica' }, 'instance list: the Role column');
  const shownSrc = await os.json<Row>('database', 'instance', 'show', 'src');
  t.same(String(shownSrc.replicas).split(', ').sort(), [r1, rs1, rs2].sort(), 'instance show of the source: replicas');
  const shownR1 = await os.json<Row>('database', 'instance', 'show', 'r1');
  t.equal(shownR1.replica_of, src, 'instance show of a replica: replica_of');
  t.ok('lag_seconds' in shownR1, 'and its lag (a field Trove lacks)');
  const lag = await until('the replica reports its lag', async () => {
    const i = await get(r1);
    return typeof i.lag_seconds === 'number' ? i : undefined;
  }, 60_000);
  t.ok(Number(lag.lag_seconds) >= 0 && Number(lag.lag_seconds) < 10, `a caught-up replica's lag is seconds, not a growing figure: ${String(lag.lag_seconds)} s, ${String(lag.lag_bytes)} bytes`);
  const lagged = ((await get(src)).replicas as Row[]).find((x) => x.id === r1)!;
  t.ok('lag_seconds' in lagged && 'lag_bytes' in lagged, 'the source\'s replicas entries carry each replica\'s lag');
  t.match(String(shownR1.ip), /^\d+\.\d+\.\d+\.\d+$/, 'ip is still shown as an address');

  // eject while the source is alive: refused, and the CLI says why.
  const eject = await os.run('database', 'instance', 'eject', 'src');
  t.not(eject.code, 0, 'instance eject of a live source fails');
  t.match(eject.stderr, /cannot be ejected: its agent was heard \d+ s ago.*promote one of its replicas.*\(HTTP 400\)/s, `the CLI shows the refusal: ${eject.stderr.trim()}`);
  const del = await os.run('database', 'instance', 'delete', 'src');
  t.match(del.stdout + del.stderr, /promote one of them to replica source, or detach them, before deleting it/, `instance delete of a source with replicas is refused: ${(del.stdout + del.stderr).trim()}`);

  // promote r1: a planned switchover; the old source follows r1.
  await os.ok('database', 'instance', 'promote', 'r1');
  const promoted = await until('r1 is the ACTIVE source of the set', async () => {
    const [a, b] = await Promise.all([get(r1), get(src)]);
    return a.status === 'ACTIVE' && Array.isArray(a.replicas) && (b.replica_of as Row | undefined)?.id === r1 && b.status === 'ACTIVE' ? a : undefined;
  }, 300_000);
  t.same((promoted.replicas as Row[]).map((x) => x.id).sort(), [src, rs1, rs2].sort(), 'after promote: r1 has the old source and the other replicas as replicas');
  const afterList = new Map((await os.json<Row[]>('database', 'instance', 'list')).map((i) => [String(i.Name), String(i.Role)]));
  t.same(Object.fromEntries(afterList), { src: 'replica', r1: 'primary', 'rs-1': 'replica', 'rs-2': 'replica' }, 'instance list after promote: roles swapped');
  t.equal((await redis(r1, 'SET', 'after-promote', 'yes')).stdout.trim(), 'OK', 'the new source takes writes');
  await until('the old source follows the new one', async () => ((await redis(src, 'GET', 'after-promote')).stdout.trim() === 'yes' ? true : undefined), 60_000);
  t.match((await redis(src, 'SET', 'x', '1')).stdout, /READONLY/, 'the old source refuses writes now');

  // detach rs-2: standalone and writable.
  await os.ok('database', 'instance', 'detach', 'rs-2');
  const detached = await until('rs-2 is standalone and ACTIVE', async () => {
    const i = await get(rs2);
    return i.status === 'ACTIVE' && !('replica_of' in i) ? i : undefined;
  }, 180_000);
  t.notOk('replica_of' in detached, 'after detach: no replica_of');
  t.equal((await redis(rs2, 'SET', 'mine', 'now')).stdout.trim(), 'OK', 'the detached instance takes writes');
  const finalList = new Map((await os.json<Row[]>('database', 'instance', 'list')).map((i) => [String(i.Name), String(i.Role)]));
  t.equal(finalList.get('rs-2'), '', 'instance list: rs-2 has no role any more');
  t.same(((await get(r1)).replicas as Row[]).map((x) => x.id).sort(), [src, rs1].sort(), 'and r1 no longer lists it');

  // The source r1 dies (kill -9 of its agent and redis-server): once the
  // control no longer hears it (operating_status UNKNOWN), eject is accepted.
  await redis(r1, 'SET', 'before-the-crash', 'kept');
  await until('the replicas have the last write', async () => {
    for (const id of [src, rs1]) if ((await redis(id, 'GET', 'before-the-crash')).stdout.trim() !== 'kept') return undefined;
    return true;
  }, 60_000);
  killInstance(control, r1);
  const gone = await until('r1 is no longer heard', async () => {
    const i = await get(r1);
    return i.operating_status === 'UNKNOWN' ? i : undefined;
  }, 60_000);
  t.equal(gone.operating_status, 'UNKNOWN', 'instance show: the dead source\'s operating status is UNKNOWN');
  await os.ok('database', 'instance', 'eject', 'r1');
  const ejected = await until('a replica is the new ACTIVE source', async () => {
    for (const id of [src, rs1]) {
      const i = await get(id);
      if (i.status === 'ACTIVE' && Array.isArray(i.replicas) && !('replica_of' in i)) return i;
    }
    return undefined;
  }, 300_000);
  const next = String(ejected.id);
  const other = next === src ? rs1 : src;
  t.pass(`instance eject: ${String(ejected.name)} is the new source`);
  t.equal((await redis(next, 'GET', 'before-the-crash')).stdout.trim(), 'kept', 'it has the last write the old source acknowledged');
  t.equal((await redis(next, 'SET', 'after-eject', 'yes')).stdout.trim(), 'OK', 'and takes writes');
  await until('the other replica follows the new source', async () => ((await redis(other, 'GET', 'after-eject')).stdout.trim() === 'yes' ? true : undefined), 120_000);
  const ejectedList = new Map((await os.json<Row[]>('database', 'instance', 'list')).map((i) => [String(i.ID), String(i.Role)]));
  t.equal(ejectedList.get(next), 'primary', 'instance list: the new source is primary');
  t.equal(ejectedList.get(other), 'replica', 'the other replica stays a replica');

  // The old source's agent comes back: it rejoins as a replica, never as a second writable source.
  restartAgent(control, r1);
  const rejoined = await until('r1 rejoins as a replica of the new source', async () => {
    const i = await get(r1);
    return i.status === 'ACTIVE' && (i.replica_of as Row | undefined)?.id === next && i.operating_status === 'HEALTHY' ? i : undefined;
  }, 300_000);
  t.equal((rejoined.replica_of as Row).id, next, 'instance show: r1 is now a replica of the new source');
  t.match((await redis(r1, 'SET', 'split-brain', '1')).stdout, /READONLY|NOREPLICAS/, 'and refuses writes');
  await until('r1 follows the new source', async () => ((await redis(r1, 'GET', 'after-eject')).stdout.trim() === 'yes' ? true : undefined), 120_000);
  t.pass('r1 has the writes made on the new source after the eject');
});
