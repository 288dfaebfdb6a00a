// PostgreSQL's restore feeds its tools through the shared tool-streaming
// helper: a tool that gives up on its input is reported by its own exit
// status and stderr, not killed at once by the agent (which would report
// "killed by SIGKILL" and lose the tool's reason).
// Fault injection: quits-early.mjs stands in for tar, because a real tar
// exits too fast to make "the agent sees EPIPE before the tool has exited"
// certain.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ofKind } from '../../../../support/error-kind.js';
import { layoutFor } from '../../../../../agent/layout.js';
import { basebackupRestore } from '../../../../../agent/managers/postgresql/backup/basebackup.js';
import type { PgBackupContext } from '../../../../../agent/managers/postgresql/backup/context.js';
import { RecordingRunner, chunked, log, mixedData, processGone } from '../../../../strategies/backup/fixtures/streams.js';

const QUITS_EARLY = path.join(import.meta.dirname, '..', '..', '..', '..', 'lib', 'fixtures', 'quits-early.mjs');

t.test('restore (injected: tar closes its input, exits 2 after 300 ms): DATASTORE with tar\'s exit status and stderr', async (t) => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'coffer-pg-toolfail-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const runner = new RecordingRunner((argv) =>
    argv[0] === 'tar' ? [process.execPath, QUITS_EARLY, '300', '2', 'tar: This does not look like a tar archive'] : argv,
  );
  const ctx = {
    datastore: 'postgresql',
    version: '15',
    layout: layoutFor(base),
    runner,
    log,
    pgUser: () => ({ name: 'root', uid: process.getuid!(), gid: process.getgid!(), home: base }),
  } as unknown as PgBackupContext;
  const err = await basebackupRestore(ctx, async () => chunked(mixedData(16 * 1024 * 1024)), new AbortController().signal).catch((e: unknown) => e);
  t.match(err, { ...ofKind('DATASTORE'), message: /exited with code 2: tar: This does not look like a tar archive/ }, String((err as Error)?.message));
  t.notMatch(String((err as Error)?.message), /SIGKILL|EPIPE/, 'not the agent\'s own kill or the broken pipe');
  for (const c of runner.spawned) t.ok(processGone(c.pid), `pid ${c.pid} is gone`);
});
