// A replica made by Coffer through the agents' RPCs, as the control's
// create-replica workflow drives them: GetReplicaSnapshot on the source
// agent (the replica's access, then the snapshot backup), a fresh agent for
// the replica, and its Prepare restoring the snapshot with replica_of set.
// Timed until the replica's agent reports it streaming and the datastore
// itself shows it has caught up (the same check as the by-hand replica's).
import { call, type AgentProcess } from '../../support/agent.js';
import type { BenchPki } from './tls.js';
import type { GetReplicaSnapshotResponse } from '../../../proto/gen/coffer/agent/v1/replication.js';
import { DatastoreState, type GetStatusResponse, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Teardown } from '../harness.js';
import { until } from './daemon.js';
import { Phases } from './phases.js';
import { writeFileSync } from 'node:fs';
import type { ClientReadableStream } from '@grpc/grpc-js';

/**
 * Collects a progress stream and times each of its phases ("verify 8.1 s,
 * restore 10.2 s"), from the events' `phase` field (Prepare's steps, a
 * restore's verify and restore passes).
 */
export async function collectTimed<T extends { progress?: { phase: string } | undefined }>(stream: ClientReadableStream<T>): Promise<{ events: T[]; phases: string }> {
  const events: T[] = [];
  const spans: Array<[string, number]> = [];
  const t0 = Date.now();
  let cur = '';
  let at = t0;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (e: T) => {
      events.push(e);
      const ph = e.progress?.phase;
      if (ph && ph !== cur) {
        const now = Date.now();
        if (cur) spans.push([cur, now - at]);
        cur = ph;
        at = now;
      }
    });
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
  if (cur) spans.push([cur, Date.now() - at]);
  return { events, phases: spans.map(([n, ms]) => `${n} ${(ms / 1000).toFixed(2)}`).join(', ') };
}

export interface CofferReplicaInput {
  readonly source: AgentProcess;
  /** The source's instance id as the control would give it. */
  readonly sourceId: string;
  readonly datastore: string;
  readonly baseDir: string;
  readonly pki: BenchPki;
  /** The replica agent's flags (its deployment's backups). */
  readonly agentArgs: readonly string[];
  readonly replicaId: string;
  readonly password: string;
  /** The datastore-level check that the replica has applied all the source has. */
  caughtUp(replica: AgentProcess): Promise<boolean>;
}

export interface CofferReplica {
  readonly agent: AgentProcess;
  readonly seconds: number;
  readonly phases: string;
  /** Snapshot stored bytes. */
  readonly snapshotBytes: number;
  /** Where the snapshot is, relative to the local backup directory (removed after the round). */
  readonly snapshotLocation: string;
}

export const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

export async function replicaByCoffer(td: Teardown, input: CofferReplicaInput): Promise<CofferReplica> {
  const ph = new Phases();
  const backupId = `replica-snapshot-${input.replicaId}`;
  const snapTimed = await collectTimed<GetReplicaSnapshotResponse>(
    input.source.clients.replication.getReplicaSnapshot({ replicas: [{ replicaId: input.replicaId, password: input.password }], backupId, parent: undefined, storage: undefined }),
  );
  const events = snapTimed.events;
  const snap = events.at(-1)?.snapshot;
  if (!snap?.artifact?.location || !snap.sources[0]) throw new Error('GetReplicaSnapshot ended without a snapshot');
  ph.mark(`GetReplicaSnapshot [${snapTimed.phases}]`);

  // BENCH_REPLICA_LOG: the replica agent's log (info) kept in that file, to time the steps inside Prepare.
  const agentArgs = process.env.BENCH_REPLICA_LOG ? [...input.agentArgs, '--log-level', 'info'] : input.agentArgs;
  const agent = await input.pki.startAgent(td, input.baseDir, input.datastore, agentArgs);
  ph.mark('replica agent start');
  const timed = await collectTimed<PrepareResponse>(
    agent.clients.lifecycle.prepare({
      ...EMPTY_PREPARE,
      restore: { location: snap.artifact.location, backupId, rewrapped: undefined, target: undefined, archive: undefined },
      replicaOf: { ...snap.sources[0], host: '127.0.0.1', port: input.source.datastorePort, replicationPassword: input.password, instanceId: input.sourceId },
    }),
  );
  const prepared = timed.events;
  if (process.env.BENCH_REPLICA_LOG) writeFileSync(process.env.BENCH_REPLICA_LOG, agent.logs.join('\n'));
  const state = prepared.at(-1)?.result?.state;
  if (state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`replica Prepare ended in state ${state}`);
  ph.mark(`Prepare (restore, replica_of) [${timed.phases}]`);
  await untilStreamingAndCaughtUp(agent, input.caughtUp);
  ph.mark('streaming, caught up');
  return { agent, seconds: ph.seconds, phases: ph.text, snapshotBytes: snap.artifact.metadata?.storedBytes ?? 0, snapshotLocation: snap.artifact.location.location };
}

/** Waits until the replica's agent reports streaming and the replica has applied everything the source logged. */
export async function untilStreamingAndCaughtUp(agent: AgentProcess, caughtUp: (agent: AgentProcess) => Promise<boolean>): Promise<void> {
  await until(
    'the replica agent to report streaming and the replica to catch up',
    async () => {
      const st = await call<object, GetStatusResponse>(agent.clients.lifecycle, 'getStatus', {});
      if (st.replication?.role !== 'replica' || !st.replication.streaming) return undefined;
      return (await caughtUp(agent)) ? true : undefined;
    },
    600_000,
  );
}
