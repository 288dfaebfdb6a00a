// Issue 5: the control plane's SQLite paths, in process.
//
// Heartbeat ingestion: N simulated agents each report once per round through
// the conductor's real gRPC handler (conductorImplementation(...).heartbeat,
// called with the request and peer certificate a grpc-js call would carry:
// the mTLS handshake and HTTP/2 framing are left out, so this is the
// conductor's own cost), against a bare better-sqlite3 batched upsert of the
// same rows (conductor_last_seen and instance_heartbeats) into a database
// opened the same way (openDatabase: WAL, synchronous=NORMAL).
//
// List instances: N instances in one project, listed through the real
// InstanceService handler (token authentication, service layer, store,
// record-to-message conversion), called in process the same way.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { openDatabase, type Db } from '../../control/db/database.js';
import { conductorImplementation } from '../../control/conductor/service.js';
import { addInstanceService } from '../../control/api/instance-service.js';
import { InstanceStore } from '../../control/store/instances.js';
import { createToken } from '../../control/store/tokens.js';
import { createLogger } from '../../lib/logger.js';
import type { ControlContext } from '../../control/context.js';
import type { HeartbeatRequest, HeartbeatResponse } from '../../proto/gen/coffer/control/v1/conductor.js';
import type { InstanceServiceServer, ListInstancesRequest, ListInstancesResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { BenchOptions } from './options.js';
import { row, type Row } from './harness.js';

const PROJECT = 'bench';
const STEADY_ROUNDS = 5;

function tempDb(): { db: Db; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-control-'));
  return { db: openDatabase(dir), dir };
}

/**
 * The parts of a ControlContext the conductor and the instance service read
 * (db, log, the instance store, the heartbeat expiry). The task engine,
 * driver, CA and connector are not touched by these two paths.
 */
function contextFor(db: Db): ControlContext {
  return {
    db,
    log: createLogger({ level: 'silent' }),
    instances: new InstanceStore(db),
    config: { heartbeatExpiryMs: 60_000 },
  } as unknown as ControlContext;
}

const idOf = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function latencyNote(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(3)} ms, p99 ${percentile(s, 99).toFixed(3)} ms, max ${s.at(-1)!.toFixed(3)} ms over ${s.length} calls`;
}

export async function benchControl(o: BenchOptions): Promise<Row[]> {
  const S = 'control';
  const N = o.agents;
  const rows: Row[] = [];
  const conductor = tempDb();
  const bare = tempDb();
  try {
    const c = contextFor(conductor.db);
    // N instances in one project; 1% in ERROR with a fault, as list shows those.
    const token = createToken(conductor.db, PROJECT, false);
    conductor.db.transaction(() => {
      for (let i = 0; i < N; i++) {
        c.instances.insert({ id: idOf(i), project: PROJECT, name: `db-${i}`, datastore: 'mariadb', datastore_version: '10.11', flavor_id: '1', volume_size_gb: 1, restored_from_backup_id: null });
        c.instances.update(idOf(i), { status: i % 100 === 0 ? 'ERROR' : 'ACTIVE', host: '127.0.0.1', port: 20000 + (i % 40000), agent_port: 0 });
        if (i % 100 === 0) c.instances.addFault(idOf(i), 'prepare', 'the datastore did not start');
      }
    })();

    // --- heartbeat ingestion -------------------------------------------------
    const heartbeat = conductorImplementation(c).heartbeat;
    const callFor = (i: number, sentAtMs: number) =>
      ({
        request: { instanceId: idOf(i), sentAtMs, state: DatastoreState.DATASTORE_STATE_ACTIVE, reason: '', agentVersion: '0.1.0', datastorePort: 3306 },
        getAuthContext: () => ({ sslPeerCertificate: { subject: { CN: idOf(i) } } }),
      }) as unknown as ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>;
    // Every heartbeat of a round is sent at once, as 10,000 agents would, and
    // the round ends when the last one has its answer (the conductor commits
    // heartbeats that arrive together in one transaction).
    const conductorRound = (round: number): Promise<{ seconds: number; accepted: number }> =>
      new Promise((resolve, reject) => {
        let accepted = 0;
        let answered = 0;
        let failed: string | null = null;
        const base = 1_700_000_000_000 + round * 10_000;
        const start = process.hrtime.bigint();
        const cb: sendUnaryData<HeartbeatResponse> = (err, res) => {
          if (err) failed = (err as { details?: string }).details ?? 'the conductor refused a heartbeat';
          else if (res?.accepted) accepted++;
          if (++answered < N) return;
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          if (failed) reject(new Error(failed));
          else resolve({ seconds, accepted });
        };
        for (let i = 0; i < N; i++) heartbeat(callFor(i, base + (i % 1000)), cb);
      });

    const upsertSeen = bare.db.prepare(
      `INSERT INTO conductor_last_seen (instance_id, kind, sent_at, received_at) VALUES (?, 'heartbeat', ?, ?)
       ON CONFLICT (instance_id, kind) DO UPDATE SET sent_at = excluded.sent_at, received_at = excluded.received_at`,
    );
    const upsertHb = bare.db.prepare(
      `INSERT INTO instance_heartbeats (instance_id, datastore_state, reason, agent_version, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (instance_id) DO UPDATE SET datastore_state = excluded.datastore_state, reason = excluded.reason,
         agent_version = excluded.agent_version, received_at = excluded.received_at`,
    );
    const batch = bare.db.transaction((from: number, to: number, base: number) => {
      const now = Date.now();
      for (let i = from; i < to; i++) {
        upsertSeen.run(idOf(i), base + (i % 1000), now);
        upsertHb.run(idOf(i), DatastoreState.DATASTORE_STATE_ACTIVE, '', '0.1.0', now);
      }
    });
    // The conductor's per-heartbeat shape without the handler: the same
    // check-then-upsert, prepared once, one transaction per heartbeat. Tells
    // the cost of committing each heartbeat apart from the handler's own.
    const selectSeen = bare.db.prepare("SELECT sent_at FROM conductor_last_seen WHERE instance_id = ? AND kind = 'heartbeat'");
    const single = bare.db.transaction((i: number, sentAt: number) => {
      const now = Date.now();
      const seen = selectSeen.get(idOf(i)) as { sent_at: number } | undefined;
      if (seen && sentAt <= seen.sent_at) return;
      upsertSeen.run(idOf(i), sentAt, now);
      upsertHb.run(idOf(i), DatastoreState.DATASTORE_STATE_ACTIVE, '', '0.1.0', now);
    });
    const singleRound = (round: number): number => {
      const base = 1_700_000_000_000 + round * 10_000;
      const start = process.hrtime.bigint();
      for (let i = 0; i < N; i++) single(i, base + (i % 1000));
      return Number(process.hrtime.bigint() - start) / 1e9;
    };
    const bareRound = (round: number, batchSize: number): number => {
      const base = 1_700_000_000_000 + round * 10_000;
      const start = process.hrtime.bigint();
      for (let from = 0; from < N; from += batchSize) batch(from, Math.min(N, from + batchSize), base);
      return Number(process.hrtime.bigint() - start) / 1e9;
    };

    // Round 0 inserts every row; the steady rounds update them, as agents do.
    const first = await conductorRound(0);
    const firstBare = bareRound(0, N);
    rows.push(row({ suite: S, name: `heartbeats, first from each of ${N} agents (inserts): conductor handler`, seconds: first.seconds, note: `${Math.round(N / first.seconds)} heartbeats/s, ${first.accepted} accepted` }));
    rows.push(row({ suite: S, name: `heartbeats, first from each of ${N} agents (inserts): bare upsert, one transaction`, seconds: firstBare, note: `${Math.round(N / firstBare)} rows/s; conductor/bare ${(firstBare / first.seconds).toFixed(2)}x` }));

    let cs = 0;
    let acc = 0;
    let bs = 0;
    let bs1k = 0;
    for (let r = 1; r <= STEADY_ROUNDS; r++) {
      const x = await conductorRound(r);
      cs += x.seconds;
      acc += x.accepted;
      bs += bareRound(r, N);
    }
    for (let r = 1; r <= STEADY_ROUNDS; r++) bs1k += bareRound(STEADY_ROUNDS + r, 1000);
    let bs1 = 0;
    for (let r = 1; r <= STEADY_ROUNDS; r++) bs1 += singleRound(2 * STEADY_ROUNDS + r);
    const total = N * STEADY_ROUNDS;
    if (acc !== total) throw new Error(`the conductor accepted ${acc} of ${total} newer heartbeats`);
    rows.push(row({ suite: S, name: `heartbeats, ${STEADY_ROUNDS} rounds x ${N} agents (updates): conductor handler (group commit)`, seconds: cs, note: `${Math.round(total / cs)} heartbeats/s` }));
    rows.push(row({ suite: S, name: `heartbeats, same rows: bare better-sqlite3 upsert, ${N} per transaction`, seconds: bs, note: `${Math.round(total / bs)} rows/s; conductor/bare ${(bs / cs).toFixed(2)}x (target >= 0.5x)` }));
    rows.push(row({ suite: S, name: 'heartbeats, same rows: bare better-sqlite3 upsert, 1000 per transaction', seconds: bs1k, note: `${Math.round(total / bs1k)} rows/s; conductor/bare ${(bs1k / cs).toFixed(2)}x` }));
    rows.push(row({ suite: S, name: 'heartbeats, same rows: bare check-then-upsert, one transaction per heartbeat (diagnostic)', seconds: bs1, note: `${Math.round(total / bs1)} rows/s; conductor/this ${(bs1 / cs).toFixed(2)}x` }));

    // --- list instances -------------------------------------------------------
    let impl: InstanceServiceServer | undefined;
    addInstanceService({ addService: (_def: unknown, i: InstanceServiceServer) => (impl = i) } as never, c);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const list = (req: ListInstancesRequest): Promise<ListInstancesResponse> =>
      new Promise((resolve, reject) =>
        impl!.listInstances({ request: req, metadata } as unknown as ServerUnaryCall<ListInstancesRequest, ListInstancesResponse>, (err, res) =>
          err ? reject(err) : resolve(res!),
        ),
      );
    const timeCalls = async (n: number, req: (k: number) => ListInstancesRequest): Promise<number[]> => {
      const ms: number[] = [];
      for (let k = 0; k < n; k++) {
        const start = process.hrtime.bigint();
        const res = await list(req(k));
        ms.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (res.instances.length === 0) throw new Error('ListInstances returned nothing');
      }
      return ms;
    };
    await timeCalls(200, () => ({ pageSize: 0, pageToken: '' })); // warm-up: statement cache, JIT
    const firstPage = await timeCalls(2000, () => ({ pageSize: 0, pageToken: '' }));
    rows.push(row({ suite: S, name: `ListInstances, first page (default 50), ${N} instances in the project`, note: latencyNote(firstPage) }));
    const tokenAt = (i: number) => Buffer.from(idOf(i), 'utf8').toString('base64url');
    const randomPage = await timeCalls(2000, (k) => ({ pageSize: 0, pageToken: tokenAt((k * 7919) % Math.max(1, N - 50)) }));
    rows.push(row({ suite: S, name: 'ListInstances, a page at a random marker (default 50)', note: latencyNote(randomPage) }));
    const bigPage = await timeCalls(200, (k) => ({ pageSize: 1000, pageToken: k % 2 ? tokenAt(Math.floor(N / 2)) : '' }));
    rows.push(row({ suite: S, name: 'ListInstances, pages of 1000 (the maximum)', note: latencyNote(bigPage) }));
    let walked = 0;
    const start = process.hrtime.bigint();
    for (let pageToken = ''; ; ) {
      const res = await list({ pageSize: 1000, pageToken });
      walked += res.instances.length;
      if (!res.nextPageToken) break;
      pageToken = res.nextPageToken;
    }
    const walkSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (walked !== N) throw new Error(`listing walked ${walked} of ${N} instances`);
    rows.push(row({ suite: S, name: `ListInstances, every page of 1000 through all ${N}`, seconds: walkSeconds, note: `${walked} instances` }));
    return rows;
  } finally {
    conductor.db.close();
    bare.db.close();
    rmSync(conductor.dir, { recursive: true, force: true });
    rmSync(bare.dir, { recursive: true, force: true });
  }
}
