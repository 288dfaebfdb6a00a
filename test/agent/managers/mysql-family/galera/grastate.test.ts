// grastate.dat as Galera 4 writes it, and the line --wsrep-recover logs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parseGrastate, parseRecoveredPosition, readGrastate, writeSafeToBootstrap } from '../../../../../agent/managers/mysql-family/galera/grastate.js';

const FILE = `# GALERA saved state
version: 2.1
uuid:    6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f
seqno:   -1
safe_to_bootstrap: 0
`;

t.test('reads uuid, seqno and safe_to_bootstrap; refuses a file without them', async (t) => {
  t.same(parseGrastate(FILE), { uuid: '6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f', seqno: -1, safeToBootstrap: false });
  t.throws(() => parseGrastate('version: 2.1\n'), /no valid uuid/);
  t.throws(() => parseGrastate(FILE.replace('seqno:   -1', 'seqno:   x')), /no valid seqno/);
});

t.test('safe_to_bootstrap is set in place, the rest kept', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-grastate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'grastate.dat'), FILE);
  writeSafeToBootstrap(dir, true);
  t.same(readGrastate(dir), { uuid: '6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f', seqno: -1, safeToBootstrap: true });
  t.match(readFileSync(path.join(dir, 'grastate.dat'), 'utf8'), /^# GALERA saved state/);
});

t.test('the last recovered position of a --wsrep-recover log', async (t) => {
  const log = '2026-12-01 17:00:00 0 [Note] WSREP: Recovered position: 6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f:41\n... [Note] WSREP: Recovered position: 6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f:42\n';
  t.same(parseRecoveredPosition(log), { uuid: '6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f', seqno: 42 });
  t.equal(parseRecoveredPosition('nothing'), null);
});
