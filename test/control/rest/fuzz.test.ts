// A few hundred malformed and hostile requests, generated deterministically
// (a seeded PRNG): random JSON shapes, wrong types, huge strings, unicode,
// SQL and shell metacharacters, bad paths and encodings, malformed JSON,
// oversized bodies, wrong content types. None may answer 5xx, and the
// service (and the instance the requests aim at) must keep answering.
import t from 'tap';
import { startControl } from '../../support/control.js';
import { restClient, waitInstance } from '../../support/openstack/rest.js';

t.setTimeout(300_000);

/** mulberry32: small, seeded, the same sequence on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  "'; DROP TABLE mysql.user; --",
  '`whoami`',
  '$(touch /tmp/coffer-pwned)',
  '; rm -rf / #',
  '../../../etc/passwd',
  'a\u0000b',
  '\u202etxt.exe',
  'ünïcödé-名前-😀',
  '%',
  '@',
  'root@%',
  ' ',
  '',
  'x'.repeat(70),
  'y'.repeat(5000),
  '\\',
  '"',
  "'",
  '*',
  'information_schema',
  'mysql',
  '\n',
];

const KEYS = ['instance', 'name', 'databases', 'users', 'volume', 'size', 'flavorRef', 'datastore', 'type', 'version', 'restart', 'resize', 'reset_status', 'backup', 'incremental', 'parent_id', 'password', 'host', 'user', 'restorePoint', 'backupRef', 'cluster', 'instances', 'grow', 'shrink', 'reset-status', 'id', '__proto__', 'constructor'];

t.test('malformed and hostile requests never get a 5xx', async (t) => {
  const control = await startControl(t);
  const token = control.token('fuzz');
  const request = restClient(control.restPort);
  const rnd = prng(0xc0ffee);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const created = await request('POST', '/v1.0/fuzz/instances', { token, body: { instance: { name: 'target', databases: [{ name: 'keep' }] } } });
  const iid = created.body.instance.id as string;
  const settled = (i: Record<string, unknown> | null) => i?.status === 'ACTIVE' || i?.status === 'ERROR';
  t.equal((await waitInstance(request, 'fuzz', token, iid, settled))!.status, 'ACTIVE', 'the target instance is ACTIVE');

  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 2 || r < 0.35) return pick<unknown>([null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, ...HOSTILE]);
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 4); i >= 0; i--) o[rnd() < 0.8 ? pick(KEYS) : pick(HOSTILE)] = value(depth + 1);
    return o;
  };
  const segment = (): string => (rnd() < 0.5 ? encodeURIComponent(pick(HOSTILE)) : pick(['%zz', '%', '..', '%2e%2e', '%00', 'bob@%25', iid, 'keep', 'x'.repeat(2000)]));
  const paths = (): string => {
    const s = segment();
    return pick([
      `/v1.0/fuzz/instances/${iid}/action`,
      `/v1.0/fuzz/instances/${iid}/databases`,
      `/v1.0/fuzz/instances/${iid}/databases/${s}`,
      `/v1.0/fuzz/instances/${iid}/users`,
      `/v1.0/fuzz/instances/${iid}/users/${s}`,
      `/v1.0/fuzz/instances/${iid}/users/${s}/databases`,
      `/v1.0/fuzz/instances/${iid}/users/${s}/databases/${segment()}`,
      `/v1.0/fuzz/instances/${iid}/root`,
      `/v1.0/fuzz/instances/${s}`,
      `/v1.0/fuzz/instances/${s}/action`,
      '/v1.0/fuzz/instances',
      `/v1.0/fuzz/instances?limit=${s}&marker=${segment()}`,
      '/v1.0/fuzz/backups',
      `/v1.0/fuzz/backups/${s}`,
      `/v1.0/fuzz/backups?instance_id=${s}&all_projects=${segment()}`,
      `/v1.0/fuzz/datastores/${s}/versions/${segment()}`,
      `/v1.0/fuzz/flavors/${s}`,
      '/v1.0/fuzz/clusters',
      `/v1.0/fuzz/clusters/${s}`,
      `/v1.0/fuzz/clusters/${s}/instances/${segment()}`,
      `/v1.0/${s}/instances`,
      `/${s}`,
    ]);
  };
  const RAW = ['{', '{"instance":', '[1,2', 'nul', '\u0000', '{"instance": {"name": "x"}}}', '{"a":1,"a":2}', '"just a string"', '12', '[]', 'true', '{"instance": {"name": "\\ud800"}}'];

  let sent = 0;
  const bad: string[] = [];
  const statuses: Record<number, number> = {};
  const check = async (method: string, path: string, o: Parameters<typeof request>[2]): Promise<void> => {
    // Never delete the target itself: that is a valid request, not a hostile one.
    if (method === 'DELETE' && path === `/v1.0/fuzz/instances/${iid}`) return;
    sent++;
    let r;
    try {
      r = await request(method, path, o);
    } catch (err) {
      bad.push(`${method} ${path.slice(0, 120)}: no answer (${String(err)})`);
      return;
    }
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status >= 500) bad.push(`${method} ${path.slice(0, 120)} ${JSON.stringify(o?.body ?? '').slice(0, 200)} → ${r.status} ${r.text.slice(0, 300)}`);
    else if (r.status >= 400 && !r.body) bad.push(`${method} ${path.slice(0, 120)} → ${r.status} without a fault body`);
  };

  // Random requests.
  for (let i = 0; i < 300; i++) {
    const method = pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'POST', 'PUT']);
    const path = paths();
    const r = rnd();
    const o: Parameters<typeof request>[2] = { token: rnd() < 0.95 ? token : pick(['', 'coffer_x', '\u00ff', 'a'.repeat(8000)]) };
    if (method !== 'GET' && method !== 'DELETE') {
      if (r < 0.15) Object.assign(o, { body: pick(RAW), raw: true });
      else if (r < 0.2) Object.assign(o, { body: 'a=b', raw: true, contentType: pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) });
      else if (r < 0.22) Object.assign(o, { body: { instance: { name: 'big', pad: 'z'.repeat(2 * 1024 * 1024) } } });
      else o.body = value(0);
    }
    await check(method, path, o);
  }

  // Hostile names aimed at the agent through well-formed requests.
  const base = `/v1.0/fuzz/instances/${iid}`;
  for (const name of HOSTILE) {
    await check('POST', `${base}/databases`, { token, body: { databases: [{ name, character_set: name, collate: name }] } });
    await check('POST', `${base}/users`, { token, body: { users: [{ name, password: name || 'p', host: name, databases: [{ name }] }] } });
    const seg = encodeURIComponent(name || 'x');
    await check('GET', `${base}/users/${seg}`, { token });
    await check('PUT', `${base}/users/${seg}/databases`, { token, body: { databases: [{ name }] } });
    await check('DELETE', `${base}/users/${seg}/databases/${seg}`, { token });
    await check('PUT', `${base}/users/${seg}`, { token, body: { user: { name, password: name || 'p' } } });
    await check('DELETE', `${base}/databases/${seg}`, { token });
    await check('POST', `${base}/root`, { token, body: { password: name } });
    await check('POST', '/v1.0/fuzz/backups', { token, body: { backup: { name, instance: name, parent_id: name } } });
    await check('POST', '/v1.0/fuzz/instances', { token, body: { instance: { name: `f-${name.slice(0, 200)}`, flavorRef: name, datastore: { type: name, version: name }, restorePoint: { backupRef: name || 'x' } } } });
    // Replication (issue 12): hostile sources, counts and detaches; none names the target as a source.
    await check('POST', '/v1.0/fuzz/instances', { token, body: { instance: { name: `r-${name.slice(0, 200)}`, replica_of: name, replica_count: pick<unknown>([0, 1, 3, 4, -1, 2 ** 53, name]), access: { is_public: false } } } });
    await check('POST', `${base}/action`, { token, body: { [pick(['promote_to_replica_source', 'eject_replica_source'])]: pick<unknown>([{}, null, name, [name]]) } });
    await check(pick(['PUT', 'PATCH']), `${base}`, { token, body: { instance: { [pick(['replica_of', 'slave_of'])]: pick<unknown>([null, name, 0]) } } });
  }

  t.ok(sent >= 400, `${sent} requests sent`);
  t.comment(`statuses: ${JSON.stringify(statuses)}`);
  // The requests must get past the front door, not all die at auth or routing.
  t.ok((statuses[202] ?? 0) + (statuses[200] ?? 0) > 10, 'some were accepted');
  t.ok((statuses[400] ?? 0) > 100, 'many were refused as bad requests');
  t.same(bad, [], 'no 5xx, and every error has a fault body');
  t.equal((await request('GET', '/')).status, 200, 'the service still answers');
  const after = await waitInstance(request, 'fuzz', token, iid, (i) => i !== null && (settled(i) || false), 120_000);
  t.equal(after!.status, 'ACTIVE', 'the target instance is still ACTIVE');
  const dbs = await request('GET', `${base}/databases`, { token });
  t.equal(dbs.status, 200, 'and its databases can be listed');
  t.ok(dbs.body.databases.some((d: { name: string }) => d.name === 'keep'), 'its database is still there');
});
