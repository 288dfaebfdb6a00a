// sst_in_progress, as MariaDB's SST scripts leave it in a joiner's data
// directory: counts only when touched since the server started.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { sstInProgressSince } from '../../../../../agent/managers/mysql-family/galera/sst-progress.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-sst-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'sst_in_progress');
const startedAt = Date.now();

t.notOk(sstInProgressSince(dir, startedAt), 'no file: no SST');
writeFileSync(file, '');
t.ok(sstInProgressSince(dir, startedAt), 'touched since the start: an SST runs');
const old = new Date(startedAt - 3_600_000);
utimesSync(file, old, old);
t.notOk(sstInProgressSince(dir, startedAt), 'left by an earlier run: stale, no SST');
