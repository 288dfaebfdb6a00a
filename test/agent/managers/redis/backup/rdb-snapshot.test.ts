// Redis's snapshot source streams its dump through the shared tool-streaming
// helper: a cancel stops the reader with SIGTERM and, if that is not enough,
// SIGKILL, so the backup ends CANCELLED and no process is left behind.
// Fault injection: ignores-term.mjs stands in for the `cat` that reads the
// dump, because a real cat always dies of SIGTERM; the redis-server is real.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ofKind } from '../../../../support/error-kind.js';
import { AdminClient } from '../../../../../agent/managers/redis/admin-client.js';
import { snapshot } from '../../../../../agent/managers/redis/backup/rdb-snapshot.js';
import { ProcessRunner } from '../../../../../lib/process-runner.js';
import { RecordingRunner, log, processGone } from '../../../../strategies/backup/fixtures/streams.js';

const IGNORES_TERM = [process.execPath, path.join(import.meta.dirname, '..', '..', '..', '..', 'strategies', 'backup', 'fixtures', 'ignores-term.mjs')];

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('cancel: the dump reader ignores SIGTERM (injected), is killed after the kill timeout; CANCELLED, no process left', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-rdb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'redis.sock');
  // The admin's password goes in a 0600 config file, never on the command line.
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(conf, `port 0\nunixsocket ${socket}\ndir ${dir}\nsave ""\nappendonly no\nuser admin on >secret ~* &* +@all\n`, { mode: 0o600 });
  const server = new ProcessRunner(log).spawn(['redis-server', conf], { logOutput: false });
  t.teardown(() => server.stop(5000));
  const client = new AdminClient({ socket, user: 'admin', password: () => 'secret', log });
  t.teardown(() => client.close());
  await until('redis-server to answer', async () => {
    if (!server.running) throw new Error(`redis-server exited: ${server.outputTail()}`);
    try {
      await client.open();
      return (await client.call('PING')) === 'PONG';
    } catch {
      return false;
    }
  });

  const runner = new RecordingRunner((argv) => (argv[0] === 'cat' ? IGNORES_TERM : argv));
  const ac = new AbortController();
  const source = await snapshot(client, runner, path.join(dir, 'dump.rdb'), ac.signal, '7.0');
  const reader = runner.spawned[0]!;
  await until('the reader to start', () => reader.outputTail().includes('started'));
  ac.abort(new Error('the client went away'));
  // A generous deadline, far above the kill timeout: without escalation the
  // reader would run forever and `done` never settle.
  const outcome = await Promise.race([source.done.then(() => 'completed', (e: unknown) => e), new Promise((r) => setTimeout(() => r('still running after 60 s'), 60_000).unref())]);
  t.match(outcome, ofKind('CANCELLED'), 'the backup ends CANCELLED');
  await until('the reader to be gone', () => runner.spawned.every((c) => processGone(c.pid)));
  t.ok(runner.spawned.every((c) => processGone(c.pid)), 'no process left');
});
