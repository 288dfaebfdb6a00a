// The conductor's source verdict, from the records, for each kind of
// member of a replication set (control/conductor/source-verdict.ts).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../control/db/database.js';
import { InstanceStore } from '../../../control/store/instances.js';
import { SourceVerdicts } from '../../../control/conductor/source-verdict.js';
import { SourceVerdict } from '../../../proto/gen/coffer/control/v1/conductor.js';

t.test('verdicts', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-verdict-'));
  const db = openDatabase(dir);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  db.prepare("INSERT INTO projects (name, created_at) VALUES ('p', 0)").run();
  const store = new InstanceStore(db);
  const add = (id: string, patch: Parameters<InstanceStore['update']>[1] = {}): void => {
    store.insert({ id, project: 'p', name: id, datastore: 'mariadb', datastore_version: '10.11', flavor_id: '1', volume_size_gb: 1, restored_from_backup_id: null });
    store.update(id, { status: 'ACTIVE', ...patch });
  };
  add('src');
  add('rep', { replica_of: 'src' });
  add('lone');
  add('ejected', { replica_of: 'src', fenced: 1, status: 'ERROR' });
  add('promoting', { replica_of: 'src', status: 'PROMOTE', task_id: 'task' });
  add('stale', { replica_of: 'src' });
  const v = new SourceVerdicts(db, 3000);

  t.same(v.judge('src', 'source'), { verdict: SourceVerdict.SOURCE_VERDICT_CONFIRMED, leaseMs: 3000, rejoin: false }, 'a set\'s source: confirmed for the heartbeat expiry');
  t.same(v.judge('lone', 'source'), { verdict: SourceVerdict.SOURCE_VERDICT_CONFIRMED, leaseMs: 0, rejoin: false }, 'a standalone that calls itself source: confirmed, no limit');
  t.equal(v.judge('rep', 'replica').verdict, SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, 'a replica: nothing to say');
  t.equal(v.judge('lone', 'standalone').verdict, SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, 'a standalone: nothing to say');
  t.same(v.judge('ejected', 'source'), { verdict: SourceVerdict.SOURCE_VERDICT_FENCED, leaseMs: 0, rejoin: true }, 'an ejected source: fenced, and its rejoin starts');
  t.equal(v.judge('promoting', 'source').verdict, SourceVerdict.SOURCE_VERDICT_CONFIRMED, 'a replica being promoted: confirmed');
  t.equal(v.judge('stale', 'source').verdict, SourceVerdict.SOURCE_VERDICT_FENCED, 'a replica by the records whose agent says source: fenced');
  t.equal(store.get('stale')!.fenced, 1, 'and recorded fenced, so it rejoins');
  t.equal(v.judge('nobody', 'source').verdict, SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, 'an unknown instance: nothing');
});
