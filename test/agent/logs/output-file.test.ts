// The supervisor's copy of a datastore's output (agent/logs/output-file.ts):
// a file renamed away by logrotate is followed by a new one, and a file past
// its size limit is rotated to <file>.1; no line is lost either way.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutputFile } from '../../../agent/logs/output-file.js';
import { waitFor } from '../../support/agent.js';

const linesOf = (f: string): string[] => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []);

t.test('rotation by rename and by size', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-output-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'error.log');
  const out = new OutputFile(file, 4096);
  t.teardown(() => out.close());
  let n = 0;
  const write = () => out.write(`line ${++n}`);

  write();
  renameSync(file, `${file}.old`);
  await waitFor('a new file after the rename', async () => (write(), existsSync(file)));
  t.same([...linesOf(`${file}.old`), ...linesOf(file)], Array.from({ length: n }, (_, i) => `line ${i + 1}`), 'every line, in order, across the two files');

  await waitFor('a rotation past 4096 bytes', async () => {
    for (let i = 0; i < 100; i++) write();
    return existsSync(`${file}.1`);
  });
  const all = [...linesOf(`${file}.1`), ...linesOf(file)];
  const first = Number(all[0]!.split(' ')[1]);
  t.same(all, Array.from({ length: n - first + 1 }, (_, i) => `line ${first + i}`), 'consecutive lines across the rotation, up to the last one written');
  t.ok(readFileSync(`${file}.1`).length > 4096, 'the rotated file is the one past the limit');
});
