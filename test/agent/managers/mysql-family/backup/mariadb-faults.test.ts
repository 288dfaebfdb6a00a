// What goes wrong, on a real server: a cancelled backup leaves no tool
// process and no temporary files; a tool that fails rejects with its own
// reason; a corrupt stream is refused by the restore.
import t from 'tap';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { waitFor } from '../../../../support/agent.js';
import { CofferError } from '../../../../../lib/coded-error.js';
import { POPULATE, backupFor, backupWithSocket, leftovers, metadata, preparedInstance, processesWith, rootSql, socketOf } from './mariadb-helpers.js';
import { ofKind } from '../../../../support/error-kind.js';

t.test('faults', async (t) => {
  const a = await preparedInstance(t);
  await rootSql(a, POPULATE);
  const cap = backupFor(t, a);

  for (const strategy of ['mariabackup', 'mysqldump'] as const) {
    t.test(`a cancelled ${strategy} backup kills the tool and cleans up`, async (t) => {
      const ac = new AbortController();
      const source = await cap.source({ strategy, type: 'full', signal: ac.signal });
      // Nobody reads: the tool blocks on a full pipe, mid-backup.
      const tool = strategy === 'mariabackup' ? 'mariadb-backup' : 'mariadb-dump';
      const pids = await waitFor(`${tool} to run`, async () => {
        const p = processesWith(tool, `--socket=${socketOf(a)}`);
        return p.length ? p : undefined;
      });
      t.ok(pids.length > 0, `${tool} is running`);
      ac.abort(new Error('the client went away'));
      await t.rejects(source.done, { kind: 'CANCELLED', message: /client went away/ }, 'done rejects as cancelled');
      t.same(processesWith(tool, `--socket=${socketOf(a)}`), [], `no ${tool} process is left (/proc)`);
      t.same(leftovers(a), [], 'no credentials file or work dir is left');
      // No backup lock outlives the tool: DDL goes through at once.
      await rootSql(a, `SET SESSION lock_wait_timeout = 5; CREATE TABLE shop.after_${strategy} (id INT) ENGINE=InnoDB; DROP TABLE shop.after_${strategy}`);
      t.pass('the server holds no backup lock');
    });

    t.test(`a consumer that goes away stops ${strategy}`, async (t) => {
      const source = await cap.source({ strategy, type: 'full', signal: new AbortController().signal });
      let seen = 0;
      const sink = new Writable({
        write(chunk: Buffer, _e, cb) {
          seen += chunk.length;
          cb(seen > 100_000 ? new Error('disk full') : null);
        },
      });
      await t.rejects(pipeline(source.stream, sink), /disk full/);
      await t.rejects(source.done, ofKind('CANCELLED'), 'done rejects');
      const tool = strategy === 'mariabackup' ? 'mariadb-backup' : 'mariadb-dump';
      t.same(processesWith(tool, `--socket=${socketOf(a)}`), [], `no ${tool} process is left`);
      t.same(leftovers(a), []);
    });

    t.test(`${strategy} failing (wrong socket) rejects with the tool's reason`, async (t) => {
      const broken = backupWithSocket(t, a, path.join(a.baseDir, 'run', 'no-such.sock'));
      const source = await broken.source({ strategy, type: 'full', signal: new AbortController().signal });
      const read = pipeline(source.stream, new Writable({ write: (_c, _e, cb) => cb() }));
      // The stream may fail before done settles: observed from the start.
      const readFailure = read.then(() => null, (e: unknown) => e);
      const err = (await source.done.catch((e: unknown) => e)) as Error;
      t.match(err, { kind: 'DATASTORE', message: /exited with code \d+: .*(Can't connect|no-such\.sock)/s }, "done rejects with the tool's stderr");
      t.comment(err.message);
      t.match(await readFailure, ofKind('DATASTORE'), 'and the stream fails too: a truncated backup cannot be committed');
      t.same(leftovers(a), []);
    });
  }

  t.test('an already aborted signal starts nothing', async (t) => {
    const ac = new AbortController();
    ac.abort(new Error('no'));
    await t.rejects(cap.source({ strategy: 'mariabackup', type: 'full', signal: ac.signal }), ofKind('CANCELLED'));
    t.same(leftovers(a), []);
  });

  t.test('a restore whose input fails midway reports the input\'s error and stops mbstream', async (t) => {
    const full = metadata({ fromLsn: '0', toLsn: '1000' }, { backupId: 'broken', strategy: 'mariabackup' });
    // A real xbstream prefix, then the pipeline's integrity failure.
    const ac = new AbortController();
    const src = await cap.source({ strategy: 'mariabackup', type: 'full', signal: ac.signal });
    const prefix: Buffer[] = [];
    for await (const chunk of src.stream) {
      prefix.push(chunk as Buffer);
      if (prefix.length > 4) break;
    }
    ac.abort(new Error('enough'));
    await src.done.catch(() => undefined);
    const input = async function* () {
      yield* prefix;
      throw new CofferError('INTEGRITY', 'frame 3 failed authentication');
    };
    await t.rejects(cap.restore([full], async () => Readable.from(input()), new AbortController().signal), { kind: 'INTEGRITY', message: /frame 3/ });
    t.same(processesWith('mbstream', a.baseDir), [], 'no mbstream left');
    t.same(leftovers(a), []);
  });

  t.test('a cancelled restore stops mbstream and cleans up', async (t) => {
    const full = metadata({ fromLsn: '0', toLsn: '1000' }, { backupId: 'slow', strategy: 'mariabackup' });
    const ac = new AbortController();
    // Input that never ends: the restore waits in extraction until cancelled.
    const endless = new Readable({ read() {} });
    const restoring = cap.restore([full], async () => endless, ac.signal);
    await waitFor('mbstream to run', async () => processesWith('mbstream', a.baseDir).length > 0);
    ac.abort(new Error('operator cancelled'));
    await t.rejects(restoring, { kind: 'CANCELLED', message: /operator cancelled/ });
    t.same(processesWith('mbstream', a.baseDir), [], 'no mbstream left');
    t.same(leftovers(a), []);
  });

  t.test('a stream that is not a backup is refused by the restore', async (t) => {
    const full = metadata({ fromLsn: '0', toLsn: '1000' }, { backupId: 'junk', strategy: 'mariabackup' });
    // The agent would have stopped and emptied the data dir; here B is A
    // running, which the restore must not reach: extraction fails first.
    const err = await cap.restore([full], async () => Readable.from([Buffer.alloc(100_000, 7)]), new AbortController().signal).catch((e: unknown) => e);
    t.match(err, { kind: /^(DATASTORE|INTEGRITY)$/ }, `refused: ${(err as Error).message}`);
    t.same(leftovers(a), [], 'the work dir is removed');
    t.equal((await rootSql(a, 'SELECT COUNT(*) FROM shop.items')).trim(), '6000', 'the datastore is untouched');
  });
});
