// Prepare from a backup is one agent operation: the agent reports BUILDING
// (and refuses Start, Stop and a second Prepare) until the restore and the
// accounts created after it are done, and a restore that fails ends FAILED
// without ever reporting ACTIVE. Whatever trusts ACTIVE (the control's
// resumed prepare step, reset_status, heartbeats) must not conclude early.
//
// The backup object is held back through an injected FIFO: the agent's
// read of it (a physical restore reads it once, checking it as it is
// staged) blocks until the test writes the bytes, so "while Prepare
// restores" is a condition the test controls, not a timing.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { status as Status, type ClientReadableStream } from '@grpc/grpc-js';
import { startAgent, call, collect, tempBase, waitFor, type AgentProcess } from '../../support/agent.js';
import { seed, checksums } from '../../support/dataset.js';
import { mariadb } from '../../support/mariadb-client.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type GetStatusResponse, type PrepareRequest, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

const EMPTY_PREPARE: PrepareRequest = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };
const { BUILDING, ACTIVE, FAILED } = {
  BUILDING: DatastoreState.DATASTORE_STATE_BUILDING,
  ACTIVE: DatastoreState.DATASTORE_STATE_ACTIVE,
  FAILED: DatastoreState.DATASTORE_STATE_FAILED,
};

function deployment() {
  const dir = tempBase('coffer-deploy-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(dir, 'backups');
  return { dir, keyFile, backupDir, args: ['--backup-dir', backupDir, '--backup-key-file', keyFile] };
}

const statusOf = (agent: AgentProcess) => call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});

/** An instance with data, and a full backup of it in the deployment's local storage. */
async function sourceBackup(t: Test, d: ReturnType<typeof deployment>): Promise<{ artifact: BackupArtifact; expected: string }> {
  const a = await startAgent(t, { extraArgs: d.args });
  await collect(a.clients.lifecycle.prepare(EMPTY_PREPARE));
  await seed(a.baseDir, 'shop', 5000);
  const events = await collect<CreateBackupResponse>(
    a.clients.backup.createBackup({ backupId: 'full-1', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }),
  );
  const artifact = events.at(-1)!.artifact!;
  const expected = await checksums(a.baseDir, ['shop']);
  await a.stop();
  return { artifact, expected };
}

/**
 * Puts a FIFO where the object was. The agent's first open blocks until
 * `release` writes `bytes` into it; before the FIFO closes, a regular file
 * with `after` replaces it, which a second read (a verify-first restore's
 * restore pass) would open.
 */
function holdObject(file: string, tmpDir: string) {
  const good = readFileSync(file);
  rmSync(file);
  execFileSync('mkfifo', ['-m', '0600', file]);
  return {
    good,
    async release(bytes: Buffer, after: Buffer = bytes): Promise<void> {
      const fifo = await open(file, 'w');
      try {
        const staged = path.join(tmpDir, 'object.staged');
        writeFileSync(staged, after, { mode: 0o600 });
        // Replace the name now: the agent holds the FIFO open already.
        renameSync(staged, file);
        await fifo.write(bytes);
      } finally {
        await fifo.close();
      }
    },
  };
}

/** Polls GetStatus back to back until stopped; every state seen, in order. */
function watchStates(agent: AgentProcess) {
  const seen: DatastoreState[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) seen.push((await statusOf(agent)).state);
  })();
  return {
    seen,
    async stop(): Promise<DatastoreState[]> {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

function prepareStream(agent: AgentProcess, req: PrepareRequest) {
  const stream: ClientReadableStream<PrepareResponse> = agent.clients.lifecycle.prepare(req);
  const events: PrepareResponse[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', (e: PrepareResponse) => events.push(e));
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
  ended.catch(() => undefined);
  return { events, ended };
}

const name = (s: DatastoreState) => DatastoreState[s] ?? String(s);

/** Prepare has begun reading the backup: its restore step, past the checks that read no object. */
const readingBackup = (events: readonly PrepareResponse[]): boolean =>
  events.some((e) => e.progress?.phase === 'verify' || e.progress?.message === 'restoring into the datastore');

t.test('Prepare from a backup reports BUILDING and is busy until the restore and its accounts are done (backup object held through an injected FIFO)', async (t) => {
  const d = deployment();
  const { artifact, expected } = await sourceBackup(t, d);
  const object = path.join(d.backupDir, artifact.location!.location);
  const held = holdObject(object, d.dir);

  const b = await startAgent(t, { extraArgs: d.args });
  const watch = watchStates(b);
  const prep = prepareStream(b, {
    ...EMPTY_PREPARE,
    restore: { location: artifact.location, backupId: 'full-1', rewrapped: undefined, target: undefined, archive: undefined },
    users: [{ name: 'app', host: '%', password: 'App-pass-1', databases: ['shop'], rules: [] }],
  });
  // The restore has begun: the agent waits on the FIFO until released.
  await waitFor('Prepare reading the backup', async () => readingBackup(prep.events));

  const during = await statusOf(b);
  t.equal(name(during.state), name(BUILDING), 'GetStatus says BUILDING while the backup is read');
  t.ok(during.operations.some((o) => o.kind === 'prepare'), 'and lists the Prepare operation');
  await t.rejects(call(b.clients.lifecycle, 'start', {}), { code: Status.ABORTED }, 'Start meanwhile: busy');
  await t.rejects(call(b.clients.lifecycle, 'stop', {}), { code: Status.ABORTED }, 'Stop meanwhile: busy');
  await t.rejects(collect(b.clients.lifecycle.prepare(EMPTY_PREPARE)), { code: Status.ABORTED }, 'a second Prepare meanwhile: busy');

  await held.release(held.good);
  await prep.ended;
  const last = prep.events.at(-1)?.result;
  t.equal(name(last!.state), name(ACTIVE), 'Prepare ends ACTIVE');
  const seen = await watch.stop();
  const firstActive = seen.indexOf(ACTIVE);
  t.same(
    (firstActive < 0 ? [] : seen.slice(firstActive)).filter((s) => s !== ACTIVE).map(name),
    [],
    `once ACTIVE, the state stays ACTIVE (seen: ${[...new Set(seen.map(name))].join(' -> ')})`,
  );
  t.equal(await checksums(b.baseDir, ['shop']), expected, 'the restored data is there');
  t.equal((await mariadb(b.datastorePort, 'app', 'App-pass-1', 'SHOW DATABASES')).stdout.includes('shop'), true, 'the account made after the restore logs in');
});

t.test('a restore that fails in Prepare goes BUILDING -> FAILED without reporting ACTIVE (tampered object held through an injected FIFO)', async (t) => {
  const d = deployment();
  const { artifact } = await sourceBackup(t, d);
  const object = path.join(d.backupDir, artifact.location!.location);
  const held = holdObject(object, d.dir);
  const tampered = Buffer.from(held.good);
  tampered[Math.floor(tampered.length / 2)]! ^= 0x10;

  const b = await startAgent(t, { extraArgs: d.args });
  const watch = watchStates(b);
  const prep = prepareStream(b, { ...EMPTY_PREPARE, restore: { location: artifact.location, backupId: 'full-1', rewrapped: undefined, target: undefined, archive: undefined } });
  await waitFor('Prepare reading the backup', async () => readingBackup(prep.events));
  t.equal(name((await statusOf(b)).state), name(BUILDING), 'BUILDING while the backup is read');

  await held.release(tampered);
  const err = await prep.ended.then(() => null, (e: { code: number }) => e);
  t.match(err, { code: Status.DATA_LOSS }, 'Prepare fails: the object does not verify');
  const after = await statusOf(b);
  t.equal(name(after.state), name(FAILED), 'the instance is FAILED');
  t.match(after.reason, /restore|verif|integrity|checksum/i, 'and the reason says why');
  const seen = await watch.stop();
  t.notOk(seen.includes(ACTIVE), `ACTIVE was never reported (seen: ${[...new Set(seen.map(name))].join(' -> ')})`);

  // The failed instance can be prepared again, from the intact object.
  writeFileSync(object, held.good);
  const again = await collect<PrepareResponse>(b.clients.lifecycle.prepare({ ...EMPTY_PREPARE, restore: { location: artifact.location, backupId: 'full-1', rewrapped: undefined, target: undefined, archive: undefined } }));
  t.equal(name(again.at(-1)!.result!.state), name(ACTIVE), 'a second Prepare from the intact backup works');
});
