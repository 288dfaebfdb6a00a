// A replica made by Coffer the way the control's create-replicas workflow
// now drives it for PostgreSQL and MariaDB (traits `snapshot: 'clone'`):
// AddReplicaAccess on the source agent (PostgreSQL: the replica's slot and
// the deployment's role; MariaDB: its account and, with a clone ticket, the
// source agent's one-shot clone endpoint), no backup, a fresh agent for the
// replica, and its Prepare with replica_of and no restore, which clones the
// source (pg_basebackup; mariadb-backup streamed from the endpoint into
// mbstream). Timed until the replica's agent reports it streaming and the
// datastore itself shows it has caught up (the same check as the by-hand
// replica's).
import type { SourceInfo } from '../../../proto/gen/coffer/agent/v1/replication_state.js';
import { DatastoreState, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { writeFileSync } from 'node:fs';
import { call, type AgentProcess } from '../../support/agent.js';
import type { Teardown } from '../harness.js';
import { randomBytes } from 'node:crypto';
import { collectTimed, EMPTY_PREPARE, untilStreamingAndCaughtUp, type CofferReplicaInput } from './coffer-replica.js';
import { Phases } from './phases.js';

export interface CofferClonedReplica {
  readonly agent: AgentProcess;
  readonly seconds: number;
  readonly phases: string;
  /** What the clone reported copying (pg_basebackup --progress), bytes. */
  readonly clonedBytes: number;
}

/** MariaDB: through the source agent's clone endpoint, the copy compressed on the wire or not. */
export interface EndpointClone {
  readonly compression: 'none' | 'zstd';
}

export async function clonedReplicaByCoffer(td: Teardown, input: CofferReplicaInput, endpoint?: EndpointClone): Promise<CofferClonedReplica> {
  const ph = new Phases();
  const ticket = endpoint ? randomBytes(32).toString('hex') : '';
  const access = await call<object, { sources: SourceInfo[] }>(input.source.clients.replication, 'addReplicaAccess', {
    replicas: [{ replicaId: input.replicaId, password: input.password, cloneTicket: ticket, cloneTtlSeconds: 0 }],
  });
  if (!access.sources[0]) throw new Error('AddReplicaAccess answered no access');
  ph.mark('AddReplicaAccess');

  // BENCH_REPLICA_LOG: the replica agent's log (info) kept in that file, to time the steps inside Prepare.
  const agentArgs = process.env.BENCH_REPLICA_LOG ? [...input.agentArgs, '--log-level', 'info'] : input.agentArgs;
  const agent = await input.pki.startAgent(td, input.baseDir, input.datastore, agentArgs);
  ph.mark('replica agent start');
  const timed = await collectTimed<PrepareResponse>(
    agent.clients.lifecycle.prepare({
      ...EMPTY_PREPARE,
      replicaOf: {
        ...access.sources[0],
        host: '127.0.0.1',
        port: input.source.datastorePort,
        replicationPassword: input.password,
        instanceId: input.sourceId,
        cloneTicket: ticket,
        cloneCompression: endpoint?.compression ?? '',
      },
    }),
  );
  const prepared = timed.events;
  if (process.env.BENCH_REPLICA_LOG) writeFileSync(process.env.BENCH_REPLICA_LOG, agent.logs.join('\n'));
  const state = prepared.at(-1)?.result?.state;
  if (state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`replica Prepare ended in state ${state}`);
  const cloned = prepared.flatMap((e) => (e.progress?.phase === 'clone' ? [e.progress.bytesDone] : [])).reduce((a, b) => Math.max(a, b), 0);
  ph.mark(`Prepare (clone, replica_of) [${timed.phases}]`);
  await untilStreamingAndCaughtUp(agent, input.caughtUp);
  ph.mark('streaming, caught up');
  return { agent, seconds: ph.seconds, phases: ph.text, clonedBytes: cloned };
}
