// ProcessRunner.spawn with an open file as stdin: the child reads the
// descriptor itself, from its current offset, and shares that offset with
// us (the Redis snapshot relies on both: agent/managers/redis/backup/rdb-snapshot.ts).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';

t.test('a child reads an open file from where the descriptor stands, and leaves it at the end', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-fd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data');
  writeFileSync(file, 'HEADrest of the file\n');
  const fh = await open(file, 'r');
  t.teardown(() => fh.close());
  await fh.read(Buffer.alloc(4), 0, 4, null); // the descriptor now stands after "HEAD"
  // The path is gone: only the descriptor can still reach the bytes.
  rmSync(file);

  const child = new ProcessRunner(createLogger({ level: 'silent' })).spawn(['cat'], { stdin: fh, stdout: 'pipe', logOutput: false });
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  t.same(await child.exited, { code: 0, signal: null });
  t.equal(Buffer.concat(chunks).toString(), 'rest of the file\n', 'the child read from the shared offset to the end');
  t.equal((await fh.read(Buffer.alloc(8), 0, 8, null)).bytesRead, 0, 'our descriptor is at the end too: the offset is shared');
});
