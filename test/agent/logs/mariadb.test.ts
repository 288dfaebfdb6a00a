// Guest logs against a real MariaDB (docs/logs.md): the logs listed with
// Trove's statuses, the general log enabled through the overrides, a query
// seen in a followed tail, a password the agent set redacted (in the tail
// and in what is published), the tail following a rotation, publish to
// local storage and discard, and a hostile log name refused.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { credentials, status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, waitFor } from '../../support/agent.js';
import { mariadbSocket } from '../../support/mariadb-client.js';
import { LogServiceClient, type LogInfo, type ListLogsResponse, type TailLogResponse } from '../../../proto/gen/coffer/agent/v1/logs.js';
import { follow } from './tail-stream.js';

const PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };
const PASSWORD = 'Gr33n-Elephant-77';
const OWN_PASSWORD = 'Bl4ck-Swan-42';

t.test('mariadb guest logs', async (t) => {
  const agent = await startAgent(t);
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const logs = new LogServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => logs.close());
  const sock = path.join(agent.baseDir, 'run', 'mysqld.sock');
  const sql = (q: string) => mariadbSocket(sock, q);
  const list = async () => (await call<object, ListLogsResponse>(logs, 'listLogs', {})).logs;
  const show = async (name: string) => (await list()).find((l) => l.name === name)!;
  const generalFile = path.join(agent.baseDir, 'log', 'general.log');

  await t.test('the logs are listed: error and guest always on, general and slow_query off', async (t) => {
    const all = await list();
    t.same(all.map((l) => [l.name, l.type]), [['error', 'SYS'], ['general', 'USER'], ['slow_query', 'USER'], ['guest', 'SYS']]);
    t.equal((await show('general')).status, 'Disabled');
    t.equal((await show('error')).status, 'Ready', 'the server wrote its start to the error log');
    t.equal((await show('guest')).status, 'Ready', "the agent's own log");
    t.equal((await show('error')).metafile, 'standalone/mariadb-error_metafile');
    t.equal((await show('error')).container, 'None', 'nothing published yet');
  });

  await t.test('a hostile or unknown log name gets a clear error', async (t) => {
    for (const name of ['../../etc/passwd', 'general\nx', '']) {
      await t.rejects(collect(logs.tailLog({ name, lines: 5, follow: false })), { code: Status.INVALID_ARGUMENT, details: /not a log name.*logs: error, general, slow_query, guest/ }, JSON.stringify(name));
    }
    await t.rejects(call(logs, 'setLogEnabled', { name: 'binlog', enabled: true }), { code: Status.NOT_FOUND, details: /no log named binlog.*logs: error, general/ });
    await t.rejects(call(logs, 'setLogEnabled', { name: 'error', enabled: false }), { code: Status.INVALID_ARGUMENT, details: /SYS log/ });
  });

  await t.test('the general log enabled: a query and a user created are seen, the password redacted', async (t) => {
    const r = await call<object, { log: LogInfo; restartRequired: boolean }>(logs, 'setLogEnabled', { name: 'general', enabled: true });
    t.equal(r.restartRequired, false, 'general_log is dynamic');
    t.equal((await sql('SELECT @@general_log')).stdout.trim(), '1', 'on in the running server');
    const tail = follow(logs, 'general');
    t.teardown(() => tail.cancel());
    await sql("SELECT 'coffer-marker-1'");
    await waitFor('the query in the tail', async () => tail.lines.some((l) => l.includes('coffer-marker-1')));
    t.not((await show('general')).status, 'Disabled', `now ${(await show('general')).status}`);

    await call(agent.clients.accounts, 'createUsers', { users: [{ name: 'alice', host: '%', password: PASSWORD, databases: [], rules: [] }] });
    await sql(`CREATE USER 'bob'@'%' IDENTIFIED BY '${OWN_PASSWORD}'`);
    await sql(`ALTER USER 'bob'@'%' IDENTIFIED BY '${OWN_PASSWORD}'`);
    await waitFor('the users in the tail', async () => tail.lines.some((l) => l.includes("ALTER USER 'bob'")));
    const raw = readFileSync(generalFile, 'utf8');
    t.ok(raw.includes(OWN_PASSWORD), 'the file itself holds the password (what redaction is for)');
    const seen = tail.lines.join('\n');
    t.match(seen, /CREATE USER 'bob'@'%' IDENTIFIED BY '\[redacted\]'/);
    t.notOk(seen.includes(PASSWORD) || seen.includes(OWN_PASSWORD), 'no password in the tail');
    const aliceLine = raw.split('\n').find((l) => /CREATE USER .alice./i.test(l) || /alice.*IDENTIFIED/i.test(l));
    t.ok(aliceLine, 'the agent created alice through the general log');
    const secret = /IDENTIFIED (?:BY|VIA|WITH)[^']*'([^']+)'/i.exec(aliceLine ?? '')?.[1];
    if (secret) t.notOk(seen.includes(secret), "alice's password (or hash) is not in the tail");

    // Rotation as logrotate does it: rename, then the server reopens its file.
    renameSync(generalFile, `${generalFile}.1`);
    await sql('FLUSH GENERAL LOGS');
    await sql("SELECT 'coffer-marker-2'");
    await waitFor('a line written after the rotation', async () => tail.lines.some((l) => l.includes('coffer-marker-2')));
    t.ok(existsSync(generalFile), 'a new general.log');
  });

  await t.test('publish to local storage, then discard', async (t) => {
    await sql(`CREATE USER 'carol'@'%' IDENTIFIED BY '${OWN_PASSWORD}'`);
    const before = await show('general');
    t.equal(before.status, 'Ready');
    const r = await call<object, { log: LogInfo; sizeBytes: number }>(logs, 'publishLog', { name: 'general', storage: { storage: 'local', location: '' } });
    t.equal(r.log.status, 'Published');
    t.equal(r.log.container, 'database_logs');
    t.equal(r.log.prefix, 'standalone/mariadb-general/');
    const dir = path.join(agent.baseDir, 'backups', 'database_logs', 'standalone', 'mariadb-general');
    const objects = readdirSync(dir).filter((f) => /^log-\d{4}-\d\d-\d\dT[\d:.]+$/.test(f));
    t.equal(objects.length, 1, 'one object log-<timestamp>');
    const body = readFileSync(path.join(dir, objects[0]!), 'utf8');
    t.match(body, /CREATE USER 'carol'@'%' IDENTIFIED BY '\[redacted\]'/);
    t.notOk(body.includes(OWN_PASSWORD), 'no password in the published object');
    const meta = JSON.parse(readFileSync(path.join(agent.baseDir, 'backups', 'database_logs', 'standalone', 'mariadb-general_metafile'), 'utf8'));
    t.equal(meta.log_size, r.log.publishedBytes, 'the metafile records the bytes published');

    await sql("SELECT 'coffer-marker-3'");
    await waitFor('new lines after the publish', async () => (await show('general')).status === 'Partial');
    const again = await call<object, { log: LogInfo }>(logs, 'publishLog', { name: 'general', storage: { storage: 'local', location: '' } });
    t.equal(again.log.status, 'Published');
    const second = readdirSync(dir).filter((f) => /^log-\d{4}-\d\d-\d\dT[\d:.]+$/.test(f));
    t.equal(second.length, 2, 'only what was new went into a second object');

    // Rotated since it was published: the next publish discards and starts again.
    renameSync(generalFile, `${generalFile}.2`);
    await sql('FLUSH GENERAL LOGS');
    await sql("SELECT 'coffer-marker-4'");
    t.equal((await show('general')).status, 'Rotated');
    const fresh = await call<object, { log: LogInfo }>(logs, 'publishLog', { name: 'general', storage: { storage: 'local', location: '' } });
    t.equal(fresh.log.status, 'Published');
    const third = readdirSync(dir).filter((f) => /^log-\d{4}-\d\d-\d\dT[\d:.]+$/.test(f));
    t.equal(third.length, 1, 'what was published of the old file is gone, the new file is one object');
    t.match(readFileSync(path.join(dir, third[0]!), 'utf8'), /coffer-marker-4/);

    const d = await call<object, { log: LogInfo }>(logs, 'discardLog', { name: 'general' });
    t.equal(d.log.container, 'None');
    t.equal(d.log.status, 'Ready', 'everything is pending again');
    t.same(readdirSync(dir).filter((f) => /^log-\d{4}-\d\d-\d\dT[\d:.]+$/.test(f)), [], 'the objects are gone');
  });

  await t.test('disabled again', async (t) => {
    const r = await call<object, { log: LogInfo }>(logs, 'setLogEnabled', { name: 'general', enabled: false });
    t.equal(r.log.status, 'Disabled');
    t.equal((await sql('SELECT @@general_log')).stdout.trim(), '0');
    const last = await collect<TailLogResponse>(logs.tailLog({ name: 'guest', lines: 3, follow: false }));
    t.equal(last.flatMap((m) => m.lines).length, 3, 'the last 3 lines of the guest log');
  });
});
