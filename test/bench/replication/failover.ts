// Automatic failover through the real control with its default settings
// (heartbeat every 10 s, a source's lease 12 s renewed every 4 s, failover
// grace 5 s),
// or with BENCH_FAILOVER_HEARTBEAT_SECONDS / BENCH_FAILOVER_GRACE_SECONDS:
// a source with one replica created with auto_failover, kill -9 of the
// source's agent and datastore (a crashed VM), and a client writing to the
// replica every 100 ms until a write is accepted. Reported: kill to first
// accepted write (target under 30 s), and the part of it that is waiting
// out the source lease and the grace, counted from the source's last
// heartbeat as the control recorded it (agent_last_seen_ms).
import { randomUUID } from 'node:crypto';
import { startControl } from '../../support/control.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, killInstance, waitInstance, waitRows } from '../../support/replication.js';
import type { BenchOptions } from '../options.js';
import { row, type Row, type Teardown } from '../harness.js';

const S = 'replication';
const TARGET_S = 30;

export async function benchFailover(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  // The control's defaults (control/config.ts) unless the options say
  // otherwise; the heartbeat is always passed, since the test harness
  // otherwise starts the control with 1 s heartbeats.
  const HEARTBEAT_S = o.failoverHeartbeatSeconds ?? 10;
  const LEASE_S = Math.min(12, 3 * HEARTBEAT_S);
  const GRACE_S = o.failoverGraceSeconds ?? 5;
  const settings = o.failoverHeartbeatSeconds === undefined && o.failoverGraceSeconds === undefined ? 'control defaults' : 'control settings';
  for (const datastore of ['mariadb', 'postgresql'] as const) {
    const u = DATASTORE_USERS[datastore]!;
    const h = await startControl(td, { heartbeatSeconds: HEARTBEAT_S });
    if (o.failoverGraceSeconds !== undefined) {
      await h.kill('SIGTERM');
      h.args.push('--failover-grace-seconds', String(GRACE_S));
      await h.start();
    }
    const token = h.token(`bench-${randomUUID().slice(0, 8)}`);
    const source = await createSource(h, token, u, `fo-${datastore}`, 20);
    const created = await createReplicas(h, token, source.id, `fo-${datastore}-r`, 1, true);
    const replicaId = created.instance!.id;
    const replica = await waitInstance(h, token, replicaId, 'the replica ACTIVE', isActive, 600_000);
    await waitRows(u, replica.port, Array.from({ length: 20 }, (_, i) => i + 1), 'the replica holding the source rows');
    // The source's last heartbeat before the kill is what the lease counts from.
    await waitInstance(h, token, source.id, 'a fresh heartbeat of the source', (i) => i.agentReachable && Date.now() - Number(i.agentLastSeenMs) < 2_000, 60_000);

    const killedAt = Date.now();
    killInstance(h, source.id);
    const lastSeen = Number((await getInstance(h, token, source.id)).agentLastSeenMs);
    // Writes to the replica until one is accepted; meanwhile, when the
    // control first shows the failover (the replica's role or a task).
    let detectedAt = 0;
    let writes = 0;
    let acceptedAt = 0;
    const watcher = (async () => {
      while (!acceptedAt) {
        const r = await getInstance(h, token, replicaId).catch(() => undefined);
        if (!detectedAt && r && (r.taskId || r.role === 'source')) detectedAt = Date.now();
        await new Promise((res) => setTimeout(res, 250));
      }
    })();
    const deadline = killedAt + 300_000;
    for (let i = 1000; !acceptedAt; i++) {
      if (Date.now() > deadline) throw new Error(`${datastore}: no write accepted by the replica 300 s after the source was killed`);
      const t = Date.now();
      writes++;
      if (await u.write(replica.port, i)) acceptedAt = Date.now();
      else await new Promise((res) => setTimeout(res, Math.max(0, 100 - (Date.now() - t))));
    }
    await watcher;
    const total = (acceptedAt - killedAt) / 1000;
    const waitOut = (lastSeen + (LEASE_S + GRACE_S) * 1000 - killedAt) / 1000;
    rows.push(
      row({
        suite: S,
        name: `${datastore} automatic failover, ${settings} (heartbeat ${HEARTBEAT_S} s, source lease ${LEASE_S} s, grace ${GRACE_S} s): kill -9 of the source's agent and datastore to the first write the replica accepts`,
        seconds: total,
        note:
          `of which waiting out the source lease + grace ${waitOut.toFixed(2)} s (the source's last heartbeat was ${((killedAt - lastSeen) / 1000).toFixed(2)} s before the kill); ` +
          `control showed the failover ${detectedAt ? ((detectedAt - killedAt) / 1000).toFixed(2) + ' s' : 'never seen'} after the kill; then ${(total - waitOut).toFixed(2)} s to a writable new source; ` +
          `${writes} write attempts at 100 ms; target under ${TARGET_S} s: ${total < TARGET_S ? 'met' : 'missed'}`,
      }),
    );
    await td.run();
  }
  return rows;
}
