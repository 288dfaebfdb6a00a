// A PostgreSQL replica made by Coffer the way the control's create-replicas
// workflow now drives it (traits `snapshot: 'clone'`): AddReplicaAccess on
// the source agent (the replica's slot and the deployment's role, no
// backup), a fresh agent for the replica, and its Prepare with replica_of
// and no restore, which clones the source with pg_basebackup. Timed until
// the replica's agent reports it streaming and the datastore itself shows
// it has caught up (the same check as the by-hand replica's).
import type { SourceInfo } from '../../../proto/gen/coffer/agent/v1/replication_state.js';
import { DatastoreState, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import { call, collect, type AgentProcess } from '../../support/agent.js';
import type { Teardown } from '../harness.js';
import { EMPTY_PREPARE, untilStreamingAndCaughtUp, type CofferReplicaInput } from './coffer-replica.js';
import { Phases } from './phases.js';

export interface CofferClonedReplica {
  readonly agent: AgentProcess;
  readonly seconds: number;
  readonly phases: string;
  /** What the clone reported copying (pg_basebackup --progress), bytes. */
  readonly clonedBytes: number;
}

export async function clonedReplicaByCoffer(td: Teardown, input: CofferReplicaInput): Promise<CofferClonedReplica> {
  const ph = new Phases();
  const access = await call<object, { sources: SourceInfo[] }>(input.source.clients.replication, 'addReplicaAccess', { replicas: [{ replicaId: input.replicaId, password: input.password }] });
  if (!access.sources[0]) throw new Error('AddReplicaAccess answered no access');
  ph.mark('AddReplicaAccess');

  const agent = await input.pki.startAgent(td, input.baseDir, input.datastore, input.agentArgs);
  ph.mark('replica agent start');
  const prepared = await collect<PrepareResponse>(
    agent.clients.lifecycle.prepare({
      ...EMPTY_PREPARE,
      replicaOf: { ...access.sources[0], host: '127.0.0.1', port: input.source.datastorePort, replicationPassword: input.password, instanceId: input.sourceId },
    }),
  );
  const state = prepared.at(-1)?.result?.state;
  if (state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`replica Prepare ended in state ${state}`);
  const cloned = prepared.flatMap((e) => (e.progress?.phase === 'clone' ? [e.progress.bytesDone] : [])).reduce((a, b) => Math.max(a, b), 0);
  ph.mark('Prepare (clone, replica_of)');
  await untilStreamingAndCaughtUp(agent, input.caughtUp);
  ph.mark('streaming, caught up');
  return { agent, seconds: ph.seconds, phases: ph.text, clonedBytes: cloned };
}
