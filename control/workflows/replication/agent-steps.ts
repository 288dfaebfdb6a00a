// The replication calls the workflows make, one small function each, so the
// workflows read as the order of steps in docs/replication.md.
import type {
  AddReplicaAccessResponse,
  DemoteSourceResponse,
  EnableAsSourceResponse,
  GetLatestTransactionIdResponse,
  MakeReadOnlyResponse,
  WaitForTransactionResponse,
} from '../../../proto/gen/coffer/agent/v1/replication.js';
import type { SourceInfo } from '../../../proto/gen/coffer/agent/v1/replication_state.js';
import { randomBytes } from 'node:crypto';
import { agentCall } from '../../agent-client.js';
import { withAgent, type ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import { PermanentStepError } from '../../tasks/workflow.js';
import { accessOf, type AccessInfo } from './source-info.js';
import { replicaSecret, traitsOf } from './datastores.js';

/** Long enough for a datastore restart (PostgreSQL's demote runs pg_rewind and starts again). */
const SLOW_MS = 600_000;
const QUICK_MS = 30_000;
/** A clone endpoint is opened right before its Prepare: it waits this long for it. */
const CLONE_TTL_SECONDS = 600;

export function liveRow(c: ControlContext, id: string): InstanceRow {
  const r = c.instances.get(id);
  if (!r) throw new PermanentStepError(`instance ${id} was deleted`);
  return r;
}

const call = <T>(c: ControlContext, row: InstanceRow, method: string, req: object, timeoutMs: number): Promise<T> =>
  withAgent(c, row, (a) => agentCall<T>(a.replication, method, req, timeoutMs));

/** On a source: the replicas' accounts (and slots), created or given their secret again. */
export async function addAccess(c: ControlContext, source: InstanceRow, replicaIds: readonly string[]): Promise<AccessInfo[]> {
  if (replicaIds.length === 0) return [];
  const res = await call<AddReplicaAccessResponse>(c, source, 'addReplicaAccess', {
    replicas: replicaIds.map((id) => ({ replicaId: id, password: replicaSecret(c, source, id) })),
  }, QUICK_MS);
  return replicaIds.map((id, i) => accessOf(id, res.sources[i]));
}

/**
 * On a source whose replicas clone through its endpoint: one replica's
 * access again, and its endpoint opened with a ticket made now for one
 * Prepare (random, kept nowhere but in the Prepare request). Its port.
 */
export async function openCloneEndpoint(c: ControlContext, source: InstanceRow, replicaId: string): Promise<{ port: number; ticket: string }> {
  const ticket = randomBytes(32).toString('hex');
  const res = await call<AddReplicaAccessResponse>(c, source, 'addReplicaAccess', {
    replicas: [{ replicaId, password: replicaSecret(c, source, replicaId), cloneTicket: ticket, cloneTtlSeconds: CLONE_TTL_SECONDS }],
  }, QUICK_MS);
  const port = res.sources[0]?.clonePort ?? 0;
  // An older agent ignores the ticket: it opened nothing to clone from.
  if (!port) throw new PermanentStepError(`the source ${source.id}'s agent opened no clone endpoint (an agent older than this control?)`);
  return { port, ticket };
}

export async function removeAccess(c: ControlContext, source: InstanceRow, replicaId: string): Promise<void> {
  await call(c, source, 'removeReplicaAccess', { replicaId }, QUICK_MS);
}

export async function makeReadOnly(c: ControlContext, row: InstanceRow, readOnly: boolean): Promise<string> {
  return (await call<MakeReadOnlyResponse>(c, row, 'makeReadOnly', { readOnly }, QUICK_MS)).transactionId;
}

export async function waitFor(c: ControlContext, row: InstanceRow, transactionId: string, timeoutSeconds: number): Promise<WaitForTransactionResponse> {
  return call<WaitForTransactionResponse>(c, row, 'waitForTransaction', { transactionId, timeoutSeconds }, timeoutSeconds * 1000 + QUICK_MS);
}

export async function enableAsSource(c: ControlContext, row: InstanceRow): Promise<string> {
  return (await call<EnableAsSourceResponse>(c, row, 'enableAsSource', {}, SLOW_MS)).transactionId;
}

export async function attach(c: ControlContext, row: InstanceRow, source: SourceInfo): Promise<void> {
  await call(c, row, 'attachReplica', { source }, SLOW_MS);
}

export async function detach(c: ControlContext, row: InstanceRow): Promise<void> {
  await call(c, row, 'detachReplica', {}, SLOW_MS);
}

export async function demote(c: ControlContext, row: InstanceRow, source: SourceInfo): Promise<string> {
  return (await call<DemoteSourceResponse>(c, row, 'demoteSource', { source }, SLOW_MS)).diverged;
}

/** Re-points a replica at a new source, the way its datastore needs (datastores.ts). */
export async function repoint(c: ControlContext, row: InstanceRow, source: SourceInfo): Promise<void> {
  if (traitsOf(c, row).repoint === 'demote') await demote(c, row, source);
  else await attach(c, row, source);
}

export async function latestTransactionId(c: ControlContext, row: InstanceRow, timeoutMs = QUICK_MS): Promise<string> {
  return (await call<GetLatestTransactionIdResponse>(c, row, 'getLatestTransactionId', {}, timeoutMs)).transactionId;
}
