// The Redis BackupCapability, called directly: an RDB-only (redis-rdb)
// snapshot streamed from one agent-prepared instance is restored into a
// second one, stopped and started through the agent's own RPCs. A damaged
// RDB, and a redis-rdb-acl payload that is damaged or crafted (users the
// agent would never write), never reach the data directory. (Users carried
// by a backup: tenant-acl.test.ts.) And once through the agent's BackupService (CreateBackup, then
// Restore), which wraps the capability in the encrypted pipeline; and a
// client that cancels while the dump is on its way to zstd.
import t from 'tap';
import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { call, collect, tempBase, type AgentProcess } from '../../../support/agent.js';
import { connectAs, refusal } from '../../../support/redis-cli.js';
import { compileAgentConfig } from '../../../../agent/config.js';
import { layoutFor } from '../../../../agent/layout.js';
import { MANAGERS } from '../../../../agent/managers/registry.js';
import type { DatastoreManager } from '../../../../agent/managers/manager.js';
import { ProcessRunner } from '../../../../lib/process-runner.js';
import { createLogger } from '../../../../lib/logger.js';
import { BackupType, type BackupMetadata, type CreateBackupResponse, type RestoreResponse } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { accounts, preparedRedis, status, user } from './fixtures/instance.js';
import { ofKind } from '../../../support/error-kind.js';

/** A second manager over the same instance, as the agent builds its own. */
function managerFor(t: { teardown(fn: () => unknown): void }, agent: AgentProcess): DatastoreManager {
  const config = compileAgentConfig({}, { datastore: 'redis', baseDir: agent.baseDir, datastorePort: agent.datastorePort, insecure: true }, MANAGERS);
  const log = createLogger({ level: 'silent' });
  const m = MANAGERS.get('redis')!.create({ config, layout: layoutFor(agent.baseDir), runner: new ProcessRunner(log), log });
  t.teardown(() => m.disconnect());
  return m;
}

const meta = (patch: Partial<BackupMetadata> = {}): BackupMetadata =>
  ({ backupId: 'b1', type: BackupType.BACKUP_TYPE_FULL, strategy: 'redis-rdb', datastore: 'redis', datastoreVersion: '7.0', extra: {}, ...patch }) as BackupMetadata;

function emptyDataDir(agent: AgentProcess): void {
  const dir = path.join(agent.baseDir, 'data');
  for (const e of readdirSync(dir)) rmSync(path.join(dir, e), { recursive: true, force: true });
}

const STRINGS = 3000;
const HASHES = 1000;
const LISTS = 1000;

t.test('an RDB snapshot of one instance restores into another', async (t) => {
  const [a, b] = await Promise.all([
    preparedRedis(t, { rootPassword: 'Root-A-pass' }),
    preparedRedis(t, { rootPassword: 'Root-B-pass', users: [user('keeper', 'Keeper-pass', ['~*', '+@read'])] }),
  ]);
  // Source data: strings (a third with TTLs), hashes, lists.
  const ra = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  const p = ra.pipeline();
  for (let i = 0; i < STRINGS; i++) {
    if (i % 3 === 0) p.set(`s:${i}`, `value-${i}`, 'EX', 3600);
    else p.set(`s:${i}`, `value-${i}`);
  }
  for (let i = 0; i < HASHES; i++) p.hset(`h:${i}`, { name: `n${i}`, n: String(i), blob: 'x'.repeat(i % 200) });
  for (let i = 0; i < LISTS; i++) p.rpush(`l:${i}`, 'a', String(i), 'c');
  await p.exec();
  const keys = await ra.dbsize();
  t.equal(keys, STRINGS + HASHES + LISTS);
  // A write after the snapshot must not be in it.
  const rb0 = await connectAs(t, b.datastorePort, '', 'Root-B-pass');
  await rb0.set('only-in-b', '1');

  // Backup: stream A's snapshot to a file.
  const work = tempBase('coffer-redis-backup-');
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const file = path.join(work, 'a.rdb');
  const ma = managerFor(t, a);
  t.equal(ma.backup!.defaultStrategy, 'redis-rdb-acl');
  const src = await ma.backup!.source({ strategy: 'redis-rdb', type: 'full', signal: new AbortController().signal });
  await pipeline(src.stream, createWriteStream(file));
  const done = await src.done;
  t.equal(done.rawBytes, statSync(file).size, 'metadata records the raw size');
  t.match(done.extra?.redis_version, /^7\.0\./);
  t.equal(readFileSync(file).subarray(0, 5).toString(), 'REDIS', 'an RDB file');
  await ra.set('after-backup', '1');

  // Refusals: an incremental, an unknown strategy, a restore into a running server, a chain of two.
  await t.rejects(ma.backup!.source({ strategy: 'redis-rdb', type: 'incremental', signal: new AbortController().signal }), ofKind('INVALID_ARGUMENT'));
  await t.rejects(ma.backup!.source({ strategy: 'mysqldump', type: 'full', signal: new AbortController().signal }), ofKind('INVALID_ARGUMENT'));
  const mb = managerFor(t, b);
  const open = async () => createReadStream(file);
  await t.rejects(mb.backup!.restore([meta()], open, new AbortController().signal), ofKind('NOT_READY'), 'B still runs');
  await t.rejects(mb.backup!.restore([meta(), meta()], open, new AbortController().signal), ofKind('INVALID_ARGUMENT'));

  // Restore into B: Stop (agent RPC), empty data dir, restore, Start.
  await call(b.clients.lifecycle, 'stop', {});
  t.equal((await status(b)).state, DatastoreState.DATASTORE_STATE_SHUTDOWN);
  emptyDataDir(b);
  await mb.backup!.restore([meta()], open, new AbortController().signal);
  const data = readdirSync(path.join(b.baseDir, 'data'));
  t.ok(data.includes('dump.rdb') && data.includes('appendonlydir'), 'dump.rdb placed and the AOF rebuilt from it');
  const owner = statSync(path.join(b.baseDir, 'data', 'dump.rdb')).uid;
  t.equal(owner, Number(/^redis:x:(\d+):/m.exec(readFileSync('/etc/passwd', 'utf8'))![1]), 'owned by redis');
  await call(b.clients.lifecycle, 'start', {});
  t.equal((await status(b)).state, DatastoreState.DATASTORE_STATE_ACTIVE);

  const verify = async (what: string) => {
    const rb = await connectAs(t, b.datastorePort, '', 'Root-B-pass');
    t.equal(await rb.dbsize(), keys, `${what}: every key is there`);
    t.equal(await rb.get('only-in-b'), null, `${what}: B's own data was replaced`);
    t.equal(await rb.get('after-backup'), null, `${what}: nothing written after the snapshot`);
    t.equal(await rb.get('s:1'), 'value-1');
    t.equal(await rb.get(`s:${STRINGS - 1}`), `value-${STRINGS - 1}`);
    const ttl = await rb.ttl('s:3');
    t.ok(ttl > 3000 && ttl <= 3600, `${what}: TTLs restored (${ttl})`);
    t.equal(await rb.ttl('s:4'), -1, 'keys without TTL stay persistent');
    t.same(await rb.hgetall('h:150'), { name: 'n150', n: '150', blob: 'x'.repeat(150) });
    t.same(await rb.lrange(`l:${LISTS - 1}`, 0, -1), ['a', String(LISTS - 1), 'c']);
    let sampled = 0;
    for (let i = 0; i < STRINGS; i += 97, sampled++) t.equal(await rb.get(`s:${i}`), `value-${i}`, `s:${i}`);
    t.ok(sampled > 20);
  };
  await verify('after restore');
  // B kept its own accounts: an RDB holds no ACLs.
  const keeper = await connectAs(t, b.datastorePort, 'keeper', 'Keeper-pass');
  t.equal(await keeper.get('s:2'), 'value-2', "B's users still log in and read the restored data");
  await accounts(b, 'createUsers', { users: [user('after', 'After-pass', ['+ping'])] });

  // The data is in the append-only file, not only in memory: it survives a restart.
  await call(b.clients.lifecycle, 'restart', {});
  await verify('after a restart');
});

t.test('a damaged RDB is refused before it reaches the data directory', async (t) => {
  const [a, b] = await Promise.all([preparedRedis(t, { rootPassword: 'Root-A-pass' }), preparedRedis(t, { rootPassword: 'Root-B-pass' })]);
  const ra = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  const p = ra.pipeline();
  for (let i = 0; i < 2000; i++) p.set(`k:${i}`, `v-${i}-${'y'.repeat(50)}`);
  await p.exec();
  const ma = managerFor(t, a);
  const src = await ma.backup!.source({ strategy: 'redis-rdb', type: 'full', signal: new AbortController().signal });
  const chunks: Buffer[] = [];
  for await (const c of src.stream) chunks.push(c as Buffer);
  await src.done;
  const good = Buffer.concat(chunks);

  const flipped = Buffer.from(good);
  const mid = Math.floor(flipped.length / 2);
  flipped[mid] = flipped[mid]! ^ 0xff;
  const cases: Array<[string, Buffer]> = [
    ['one flipped byte', flipped],
    ['truncated', good.subarray(0, Math.floor(good.length * 0.7))],
    ['not an RDB', Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n')],
  ];
  const mb = managerFor(t, b);
  await call(b.clients.lifecycle, 'stop', {});
  emptyDataDir(b);
  for (const [name, bytes] of cases) {
    await t.rejects(mb.backup!.restore([meta()], async () => Readable.from([bytes]), new AbortController().signal), ofKind('INTEGRITY'), name);
    t.same(readdirSync(path.join(b.baseDir, 'data')), [], `${name}: the data directory is left empty`);
  }
  // redis-rdb-acl payloads (tenant users, then the RDB). Crafted by hand:
  // the pipeline's authentication keeps a real backup from carrying these,
  // so the agent's own checks are what is shown here.
  const digest = createHash('sha256').update('x').digest('hex');
  const withAcl = (acl: string, rdb = good): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(Buffer.byteLength(acl));
    return Buffer.concat([Buffer.from('COFRDBA1'), len, Buffer.from(acl), rdb]);
  };
  const crafted: Array<[string, Buffer]> = [
    ['a bare RDB labelled redis-rdb-acl', good],
    ['a payload that ends inside its header', withAcl(`user app on #${digest} ~* +@all\n`).subarray(0, 20)],
    ['an ACL section longer than allowed', Buffer.concat([Buffer.from('COFRDBA1'), Buffer.from([0xff, 0xff, 0xff, 0xff]), good])],
    ['a user without a password (nopass)', withAcl('user app on nopass ~* +@all\n')],
    ['a clear password', withAcl('user app on >secret ~* +@all\n')],
    ['a selector', withAcl(`user app on #${digest} (~* +@all)\n`)],
    ["the agent's own account", withAcl(`user coffer_admin on #${digest} ~* +@all\n`)],
    ['root (the default user)', withAcl(`user default on #${digest} ~* +@all\n`)],
    ['a name outside the grammar', withAcl(`user a\tb on #${digest} ~*\n`)],
    ['a user listed twice', withAcl(`user app on #${digest}\nuser app off\n`)],
    ['a good ACL section before a damaged RDB', withAcl(`user app on #${digest} ~* +@all\n`, flipped)],
  ];
  for (const [name, bytes] of crafted) {
    await t.rejects(mb.backup!.restore([meta({ strategy: 'redis-rdb-acl' })], async () => Readable.from([bytes]), new AbortController().signal), ofKind('INTEGRITY'), name);
    t.same(readdirSync(path.join(b.baseDir, 'data')), [], `${name}: the data directory is left empty`);
  }
  // The instance is still usable: restore the good one and start.
  const work = tempBase('coffer-redis-backup-');
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  writeFileSync(path.join(work, 'good.rdb'), good);
  await mb.backup!.restore([meta()], async () => createReadStream(path.join(work, 'good.rdb')), new AbortController().signal);
  await call(b.clients.lifecycle, 'start', {});
  const rb = await connectAs(t, b.datastorePort, '', 'Root-B-pass');
  t.equal(await rb.dbsize(), 2000);
  t.notOk(existsSync(path.join(b.baseDir, 'data', 'restore.rdb.partial')));
  t.equal(await refusal(rb.ping()), '');
});

t.test('through the agent: CreateBackup, then Restore of it (encrypted pipeline, local storage)', async (t) => {
  const a = await preparedRedis(t, { rootPassword: 'Root-A-pass', users: [user('app', 'App-pass-1', ['~*', '+@all'])] });
  const ra = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  const p = ra.pipeline();
  for (let i = 0; i < 2000; i++) {
    if (i % 2) p.set(`k:${i}`, `v-${i}`, 'EX', 3600);
    else p.set(`k:${i}`, `v-${i}`);
  }
  await p.exec();

  const events = await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  const artifact = events.at(-1)!.artifact!;
  t.equal(artifact.metadata!.strategy, 'redis-rdb-acl', 'the default strategy');
  t.equal(artifact.metadata!.datastore, 'redis');

  // Changes after the backup are undone by the restore.
  await ra.set('k:0', 'changed');
  await ra.del('k:1');
  await ra.set('new-key', '1');
  const done = await collect<RestoreResponse>(a.clients.backup.restore({ chain: [artifact], rewrapped: undefined }));
  t.equal(done.at(-1)!.result?.state, DatastoreState.DATASTORE_STATE_ACTIVE);

  const rb = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  t.equal(await rb.dbsize(), 2000, 'root still enabled, every key back');
  t.equal(await rb.get('k:0'), 'v-0');
  t.equal(await rb.get('k:1'), 'v-1');
  t.equal(await rb.get('new-key'), null);
  t.ok((await rb.ttl('k:1')) > 0, 'TTLs kept');
  const app = await connectAs(t, a.datastorePort, 'app', 'App-pass-1');
  t.equal(await app.get('k:2'), 'v-2', 'the instance has its users (the backup\'s, the same here)');
  await accounts(a, 'createUsers', { users: [user('later', 'Later-pass', ['+ping'])] });
  t.equal((await status(a)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
});

/**
 * Bytes a process's own threads have read so far, every read call included
 * (rchar of /proc/<pid>/task/<tid>/io). Not /proc/<pid>/io: that adds in
 * what its reaped children read.
 */
const bytesRead = (pid: number): number =>
  readdirSync(`/proc/${pid}/task`).reduce((sum, tid) => {
    try {
      return sum + Number(/^rchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/io`, 'utf8'))![1]);
    } catch {
      return sum; // a thread that ended meanwhile
    }
  }, 0);

t.test('the dump goes from the file to zstd without passing through the agent', async (t) => {
  const a = await preparedRedis(t, { rootPassword: 'Root-A-pass' });
  const ra = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  // Incompressible values (neither the RDB's LZF nor zstd shrink them), so
  // that the agent reading the dump as well as zstd's output would show as
  // about twice the RDB's size.
  const p = ra.pipeline();
  for (let i = 0; i < 4000; i++) p.set(`r:${i}`, randomBytes(4096));
  await p.exec();

  const before = bytesRead(a.proc.pid!);
  const events = await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: 'direct', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  const read = bytesRead(a.proc.pid!) - before;
  const meta = events.at(-1)!.artifact!.metadata!;
  t.ok(meta.rawBytes > 16_000_000, `a dump of ${meta.rawBytes} bytes`);
  const header = meta.rawBytes - Number(meta.extra.rdb_bytes);
  t.equal(header, 12, "zstd read exactly the file's size and the 12-byte header of no users");
  t.ok(read < meta.rawBytes * 1.5, `the agent read ${read} bytes: zstd's output, not the ${meta.rawBytes}-byte dump as well`);
});

/** The agent's living children by program name (cat and zstd carry no path to tell them by). */
function childrenOf(pid: number): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat)!;
        const [state, ppid] = rest!.split(' ');
        return Number(ppid) === pid && state !== 'Z' ? [comm!] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
}

t.test('a client that cancels mid-backup: cat and zstd are stopped, no object is left, the next backup works', async (t) => {
  const a = await preparedRedis(t, { rootPassword: 'Root-A-pass' });
  const ra = await connectAs(t, a.datastorePort, '', 'Root-A-pass');
  // About 64 MB of incompressible values: a backup that is still running when the cancel comes.
  for (let batch = 0; batch < 4; batch++) {
    const p = ra.pipeline();
    for (let i = 0; i < 4000; i++) p.set(`r:${batch}:${i}`, randomBytes(4096));
    await p.exec();
  }
  const backupDir = path.join(a.baseDir, 'backups');
  const stream = a.clients.backup.createBackup({ backupId: 'cancelled', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' });
  const outcome = collect<CreateBackupResponse>(stream).then(
    () => null,
    (e: Error & { code?: number }) => e,
  );
  // Cancelled while the dump is on its way: once the agent's zstd runs (the
  // first progress report can come only at the end of so short a backup).
  const waitUntil = Date.now() + 60_000;
  while (!childrenOf(a.proc.pid!).includes('zstd') && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 10));
  t.ok(childrenOf(a.proc.pid!).includes('zstd'), 'zstd was running when the client cancelled');
  stream.cancel();
  const err = await outcome;
  t.match(err, { code: 1 }, 'the call ends CANCELLED, not with a backup');

  const deadline = Date.now() + 30_000;
  let s = await status(a);
  while ((s.operations.length || childrenOf(a.proc.pid!).some((c) => c === 'cat' || c === 'zstd')) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    s = await status(a);
  }
  t.same(s.operations, [], 'the operation ended');
  t.same(childrenOf(a.proc.pid!).filter((c) => c !== 'redis-server'), [], 'no cat or zstd is left');
  const left = existsSync(backupDir) ? readdirSync(backupDir, { recursive: true }).map(String).filter((f) => f.includes('cancelled')) : [];
  t.same(left, [], 'no object or partial file left');
  t.equal(s.state, DatastoreState.DATASTORE_STATE_ACTIVE);

  const events = await collect<CreateBackupResponse>(a.clients.backup.createBackup({ backupId: 'after', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  t.ok(events.at(-1)!.artifact!.metadata!.rawBytes > 64_000_000, 'the next backup completes, whole');
});
