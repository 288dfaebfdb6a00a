// The backup capability, driven directly (the BackupService wiring and the
// encrypted pipeline are built elsewhere): back up an agent-prepared
// instance with each strategy, restore into a second agent-prepared
// instance (stop, empty the data dir, restore, start), and compare the data.
// A corrupt or truncated backup is refused and leaves the target's data as
// it was.
import t from 'tap';
import { createReadStream, createWriteStream, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { startAgent, call, collect, tempBase, type AgentProcess, type TestLike } from '../../../support/agent.js';
import { psql, psqlAdmin } from '../../../support/psql.js';
import { compileAgentConfig } from '../../../../agent/config.js';
import { layoutFor } from '../../../../agent/layout.js';
import { MANAGERS } from '../../../../agent/managers/registry.js';
import { postgresql } from '../../../../agent/managers/postgresql/index.js';
import type { BackupCapability } from '../../../../agent/managers/manager.js';
import { createLogger } from '../../../../lib/logger.js';
import { ProcessRunner } from '../../../../lib/process-runner.js';
import { BackupType, type BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';

const log = createLogger({ level: 'silent' });

const PREPARE = {
  datastoreVersion: '15',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: '', collation: '' }, { name: 'inventory', characterSet: 'LATIN1', collation: 'C' }],
  users: [{ name: 'alice', host: '', password: 'Al1ce-pass', databases: ['shop', 'inventory'], rules: [] }],
  overrides: {},
  restore: undefined, replicaOf: undefined,
};

/** The manager's backup capability for an agent's instance, built the way the agent builds it. */
function capabilityFor(agent: AgentProcess): BackupCapability {
  const config = compileAgentConfig({}, { datastore: 'postgresql', baseDir: agent.baseDir, datastorePort: agent.datastorePort, insecure: true }, MANAGERS);
  const manager = postgresql.create({ config, layout: layoutFor(agent.baseDir), runner: new ProcessRunner(log), log });
  return manager.backup!;
}

const alice = (a: AgentProcess, sql: string, db = 'shop') => psql(a.datastorePort, 'alice', 'Al1ce-pass', sql, db);
const fingerprint = async (a: AgentProcess) => {
  const shop = await alice(a, "SELECT count(*) || ':' || md5(string_agg(id || ',' || v, ';' ORDER BY id)) FROM items");
  const inv = await alice(a, "SELECT count(*) || ':' || md5(string_agg(sku || ',' || name, ';' ORDER BY sku)) FROM stock", 'inventory');
  return `${shop.stdout} ${inv.stdout}`;
};

async function prepared(t: TestLike, extra: object = {}): Promise<AgentProcess> {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, ...extra }));
  return agent;
}

async function backUp(cap: BackupCapability, strategy: string, file: string): Promise<Partial<BackupMetadata>> {
  const src = await cap.source({ strategy, type: 'full', signal: new AbortController().signal });
  await pipeline(src.stream, createWriteStream(file));
  return src.done;
}

const meta = (strategy: string, m: Partial<BackupMetadata>): BackupMetadata =>
  ({ backupId: `b-${strategy}`, type: BackupType.BACKUP_TYPE_FULL, strategy, datastore: 'postgresql', datastoreVersion: '15', ...m }) as BackupMetadata;

async function restoreInto(target: AgentProcess, m: BackupMetadata, file: string, empty: boolean): Promise<void> {
  const cap = capabilityFor(target);
  const dataDir = path.join(target.baseDir, 'data');
  if (empty) for (const e of readdirSync(dataDir)) (await import('node:fs')).rmSync(path.join(dataDir, e), { recursive: true, force: true });
  await cap.restore([m], async () => createReadStream(file), new AbortController().signal);
}

/** Offset of the data of a tar member chosen by `pick` (512-byte ustar headers). */
function memberDataOffset(tar: Buffer, pick: (name: string, size: number) => boolean): number {
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    if (pick(name, size)) return off + 512;
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error('no such member');
}

t.test('backup and restore', async (t) => {
  const dir = tempBase('coffer-pg-backup-');
  t.teardown(() => (import('node:fs')).then((fs) => fs.rmSync(dir, { recursive: true, force: true })));
  const source = await prepared(t, { rootPassword: 'R00t-secret!' });
  await alice(source, "CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g");
  await alice(source, "CREATE TABLE stock (sku int PRIMARY KEY, name text); INSERT INTO stock SELECT g, 'caf' || chr(233) || g FROM generate_series(1, 500) g", 'inventory');
  const expected = await fingerprint(source);
  t.match(expected, /^20000:[0-9a-f]{32} 500:[0-9a-f]{32}$/);
  const sourceCap = capabilityFor(source);
  t.same([sourceCap.defaultStrategy, [...sourceCap.strategies]], ['pg_basebackup', ['pg_basebackup', 'pg_dump']]);

  await t.test('pg_basebackup: WAL positions recorded; restored data identical', async (t) => {
    const file = path.join(dir, 'base.tar');
    const m = await backUp(sourceCap, 'pg_basebackup', file);
    t.match(m.startLsn, /^[0-9A-F]+\/[0-9A-F]+$/, `start LSN ${m.startLsn}`);
    t.match(m.stopLsn, /^[0-9A-F]+\/[0-9A-F]+$/, `stop LSN ${m.stopLsn}`);
    t.match(m.startWal, /^[0-9A-F]{24}$/);
    t.match(m.stopWal, /^[0-9A-F]{24}$/);
    const slots = await psqlAdmin(source.baseDir, source.datastorePort, 'SELECT count(*) FROM pg_replication_slots');
    t.equal(slots.stdout, '0', 'the temporary slot went away with the backup');

    const target = await prepared(t, { databases: [{ name: 'other', characterSet: '', collation: '' }], users: [] });
    await call(target.clients.lifecycle, 'stop', {});
    await restoreInto(target, meta('pg_basebackup', m), file, true);
    t.equal((await call<object, { state: number }>(target.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
    t.equal(await fingerprint(target), expected, 'row counts and md5 of the tables match');
    t.equal((await psql(target.datastorePort, 'root', 'R00t-secret!', 'SELECT 1')).code, 0, 'roles and passwords came with the backup');
    const dbs = await call<object, { databases: Array<{ name: string }> }>(target.clients.accounts, 'listDatabases', { page: { marker: '', limit: 0, includeMarker: false } });
    t.same(dbs.databases.map((d) => d.name), ['inventory', 'shop'], "the target's own databases were replaced; the agent manages the restored cluster");
    t.equal(readFileSync(path.join(target.baseDir, 'data', 'postgresql.auto.conf'), 'utf8').includes('='), false, "the source's ALTER SYSTEM settings did not come along");

    await t.test('a corrupted or truncated tar is refused; the target keeps its data', async (t) => {
      const tar = readFileSync(file);
      const bad = Buffer.from(tar);
      // Flip bytes inside the data of a table file (not a header or padding).
      const at = memberDataOffset(bad, (name, size) => name.startsWith('base/') && size >= 8192) + 4000;
      bad[at] ^= 0xff;
      bad[at + 1] ^= 0xff;
      const corrupt = path.join(dir, 'corrupt.tar');
      writeFileSync(corrupt, bad);
      const truncated = path.join(dir, 'truncated.tar');
      writeFileSync(truncated, tar.subarray(0, Math.floor(tar.length / 2)));
      await call(target.clients.lifecycle, 'stop', {});
      await t.rejects(restoreInto(target, meta('pg_basebackup', m), corrupt, false), /verification/, 'corrupt member: refused by the manifest check');
      await t.rejects(restoreInto(target, meta('pg_basebackup', m), truncated, false), /tar|verification/, 'truncated: refused (by tar, or by the manifest check when cut between members)');
      await t.rejects(restoreInto(target, meta('pg_dump', m), file, false), /malformed/, 'a tar given as a pg_dump backup: refused');
      t.equal((await call<object, { state: number }>(target.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
      t.equal(await fingerprint(target), expected, 'the data is as it was before the refused restores');
    });
  });

  await t.test('pg_dump: roles and every database; restored data identical', async (t) => {
    const file = path.join(dir, 'dump.bin');
    const m = await backUp(sourceCap, 'pg_dump', file);
    t.equal(m.extra?.databases, 'inventory,shop');
    const target = await prepared(t, { databases: [{ name: 'other', characterSet: '', collation: '' }], users: [] });
    await call(target.clients.lifecycle, 'stop', {});
    await restoreInto(target, meta('pg_dump', m), file, true);
    t.equal((await call<object, { state: number }>(target.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
    t.equal(await fingerprint(target), expected, 'row counts and md5 of the tables match');
    const enc = await alice(target, "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database WHERE datname = current_database()", 'inventory');
    t.equal(enc.stdout, 'LATIN1 C', 'encoding and collation came with the dump');
    t.equal((await psql(target.datastorePort, 'root', 'R00t-secret!', 'SELECT 1')).code, 0, 'roles were recreated with their passwords');
    t.not((await psql(target.datastorePort, 'alice', 'Al1ce-pass', 'SELECT 1', 'postgres')).code, 0, 'the rebuilt cluster is secured (no PUBLIC CONNECT on postgres)');
    const access = await call<object, { databases: Array<{ name: string }> }>(target.clients.accounts, 'listAccess', { name: 'alice', host: '' });
    t.same(access.databases.map((d) => d.name), ['inventory', 'shop'], 'grants came with the dump');

    await call(target.clients.lifecycle, 'stop', {});
    const dump = readFileSync(file);
    const truncated = path.join(dir, 'dump-truncated.bin');
    writeFileSync(truncated, dump.subarray(0, dump.length - 20));
    await t.rejects(restoreInto(target, meta('pg_dump', m), truncated, false), /ends inside|trailer|pg_restore/, 'a truncated dump is refused');
    t.equal((await call<object, { state: number }>(target.clients.lifecycle, 'start', {})).state, DatastoreState.DATASTORE_STATE_ACTIVE);
    t.equal(await fingerprint(target), expected, 'the data is as it was');
  });

  await t.test('requests the capability refuses', async (t) => {
    await t.rejects(sourceCap.source({ strategy: 'mysqldump', type: 'full', signal: new AbortController().signal }), /unknown backup strategy/);
    await t.rejects(sourceCap.source({ strategy: 'pg_basebackup', type: 'incremental', signal: new AbortController().signal }), /full only/);
    await t.rejects(sourceCap.restore([meta('pg_basebackup', {}), meta('pg_basebackup', {})], async () => createReadStream('/dev/null'), new AbortController().signal), /exactly one/);
    await t.rejects(sourceCap.restore([meta('pg_basebackup', {})], async () => createReadStream('/dev/null'), new AbortController().signal), /running/, 'a running datastore is never restored over');
  });
});
