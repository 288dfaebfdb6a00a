// Replicas through the real control and real agents, for each datastore
// whose agent has replication here: a source holding rows gets two replicas
// built in parallel (PostgreSQL: each cloned from the source through a slot
// of its own; MariaDB: each cloned through the source agent's one-shot
// clone endpoint; Redis: from one snapshot backup); both hold the rows,
// follow new writes within seconds and refuse writes; no snapshot backup is
// left (none was taken for a clone); one replica is detached (standalone
// and writable), the other deleted (the source drops its access).
import t from 'tap';
import path from 'node:path';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ReplicationSecrets } from '../../../../control/replication-secret.js';
import Database from 'better-sqlite3';
import { InstanceStatus, type DeleteInstanceResponse, type DetachReplicaResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import type { ListBackupsResponse } from '../../../../proto/gen/coffer/control/v1/backups.js';
import { ccall, startControl } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { psqlAdmin } from '../../../support/psql.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, waitInstance, waitRows, takesWrite } from '../../../support/replication.js';

t.setTimeout(20 * 60_000);

const DATASTORES = (process.env.COFFER_REPLICATION_DATASTORES ?? 'mariadb,postgresql,redis').split(',');

for (const ds of DATASTORES) {
  const u = DATASTORE_USERS[ds]!;
  t.test(`${ds}: two replicas of a source with data`, async (t) => {
    const h = await startControl(t);
    const token = h.token('p1');
    const source = await createSource(h, token, u, `src-${ds}`, 50);

    const started = Date.now();
    const created = await createReplicas(h, token, source.id, `rep-${ds}`, 2);
    t.equal(created.replicas.length, 2, 'two replicas are recorded');
    t.same(created.replicas.map((r) => r.name), [`rep-${ds}-1`, `rep-${ds}-2`], 'named with -1, -2');
    t.ok(created.replicas.every((r) => r.status === InstanceStatus.INSTANCE_STATUS_BUILD), 'they are BUILD');
    const replicas = await Promise.all(created.replicas.map((r) => waitInstance(h, token, r.id, `${r.name} ACTIVE`, isActive)));
    t.comment(`two ${ds} replicas ACTIVE after ${Date.now() - started} ms`);
    for (const r of replicas) {
      t.equal(r.replicaOf?.id, source.id, `${r.name} is a replica of the source`);
      t.equal(r.datastore, source.datastore);
      t.equal(r.flavorId, source.flavorId);
      t.equal(r.volumeSizeGb, source.volumeSizeGb);
      await waitRows(u, r.port, range(1, 50), `${r.name} holds the source's rows`);
      t.pass(`${r.name} holds the 50 rows the source had`);
    }
    const s = await getInstance(h, token, source.id);
    t.same(s.replicas.map((r) => r.id).sort(), replicas.map((r) => r.id).sort(), 'the source lists its replicas');

    await takesWrite(t, u, source.port, 51, 'a new write on the source');
    for (const r of replicas) {
      await waitRows(u, r.port, [51], `${r.name} follows the new write`, 30_000).catch((err) => {
        t.comment(dumpReplication(h.dataDir));
        const dir = path.join(h.dataDir, 'instances', r.id);
        for (const f of readdirSync(dir, { recursive: true }) as string[]) {
          if (/\.log$|log\//.test(f)) {
            try {
              t.comment(f, readFileSync(path.join(dir, f), 'utf8').slice(-2500));
            } catch {
              // a directory
            }
          }
        }
        throw err;
      });
      const refusal = await u.refusal(r.port, 1000);
      t.not(refusal, '', `${r.name} refuses a write: ${refusal.split('\n')[0]}`);
    }
    if (ds === 'postgresql') {
      // Cloned straight from the source (docs/replication-postgresql.md):
      // each through a slot of its own, and no snapshot backup at all.
      const want = replicas.map((r) => `coffer_${r.id.replace(/-/g, '')}:true`).sort().join(',');
      const srcBase = path.join(h.dataDir, 'instances', source.id, 'base');
      let seen = '';
      const slots = await waitFor('both replicas streaming from their slots', async () => {
        const r = await psqlAdmin(srcBase, source.port, "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) FROM pg_replication_slots");
        seen = r.stdout || r.stderr;
        return r.stdout === want ? r.stdout : false;
      }, 30_000).catch(() => seen);
      t.equal(slots, want, 'each replica streams from a slot of its own on the source');
    }
    if (ds === 'postgresql' || ds === 'mariadb') {
      t.equal(backupRows(h.dataDir, source.id), 0, 'no snapshot backup was recorded: the replicas cloned the source');
    }

    // The replication secrets are derived again where needed, never stored:
    // not in the database, its WAL, or the tasks' data.
    const secrets = ReplicationSecrets.open(h.dataDir);
    const stored = ['coffer.db', 'coffer.db-wal'].filter((f) => existsSync(path.join(h.dataDir, f))).map((f) => readFileSync(path.join(h.dataDir, f)));
    for (const r of replicas) {
      for (const scope of ['replica', 'deployment'] as const) {
        const secret = secrets.secretFor(scope, r.id);
        t.notOk(stored.some((b) => b.includes(secret)), `${r.name}'s ${scope} secret is not in the control's database`);
      }
    }

    const backups = await ccall<ListBackupsResponse>(h.clients.backups, 'listBackups', { instanceId: source.id, pageSize: 100, pageToken: '' }, token);
    t.same(backups.backups.map((b) => b.name), [], 'the snapshot backup was removed after the replicas were built');

    // Detach the first: standalone and writable, no longer following.
    const [a, b] = replicas as [typeof replicas[0], typeof replicas[0]];
    await ccall<DetachReplicaResponse>(h.clients.instances, 'detachReplica', { id: a.id }, token);
    const detached = await waitInstance(h, token, a.id, 'the detached replica ACTIVE', (i) => isActive(i) && !i.replicaOf);
    t.equal(detached.role, 'standalone', 'the detached replica is standalone');
    t.equal(await u.refusal(a.port, 2000), '', 'it takes writes');
    await takesWrite(t, u, source.port, 52, 'the source takes a write');
    await waitRows(u, b.port, [52], 'the other replica still follows');
    t.notOk((await u.rows(a.port)).has(52), 'the detached replica no longer follows the source');

    // Delete the second: its access on the source goes with it.
    await ccall<DeleteInstanceResponse>(h.clients.instances, 'deleteInstance', { id: b.id }, token);
    await waitFor('the replica deleted', async () => {
      try {
        await getInstance(h, token, b.id);
        return false;
      } catch {
        return true;
      }
    }, 120_000);
    const after = await getInstance(h, token, source.id);
    t.same(after.replicas, [], 'the source has no replicas left');
    t.equal(after.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'and is ACTIVE');
    t.equal(await u.refusal(source.port, 53), '', 'the source still takes writes');
  });
}

function backupRows(dataDir: string, instanceId: string): number {
  const db = new Database(path.join(dataDir, 'coffer.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM backups WHERE instance_id = ?').get(instanceId) as { n: number }).n;
  } finally {
    db.close();
  }
}

function dumpReplication(dataDir: string): string {
  const db = new Database(path.join(dataDir, 'coffer.db'), { readonly: true });
  try {
    return JSON.stringify(db.prepare('SELECT i.name, i.replica_of, i.fenced, h.replication FROM instances i LEFT JOIN instance_heartbeats h ON h.instance_id = i.id').all(), null, 1);
  } finally {
    db.close();
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
