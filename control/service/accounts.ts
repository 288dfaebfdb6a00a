// Databases, users and root of an instance, relayed to its agent once the
// caller's project owns the instance and it is ACTIVE. For a datastore that
// does not replicate its accounts (Redis), a user change on a member of a
// replication set is relayed to every member, so that the set keeps one set
// of users whichever member is the source (docs/replication.md). The same
// for a cluster whose strategy does not replicate accounts (Redis Cluster:
// a client following MOVED redirects uses one credential everywhere,
// docs/clusters.md); a Galera cluster replicates them itself, so a change
// through any member's id is made once.
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { agentCall, relayAgentError, type AgentClients } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { conflict } from '../errors.js';
import type { Caller } from './caller.js';
import { findInstance } from './instances.js';
import type { InstanceRow } from '../store/instances.js';
import { managerOf, REPLICATION_TRAITS } from '../workflows/replication/datastores.js';
import { strategyOf } from '../workflows/cluster/strategies.js';

export interface UserRef {
  name: string;
  /** Empty: '%' (any host), as Trove. */
  host: string;
}

/** Calls the agent of an ACTIVE instance in the caller's project. */
async function onAgent<T>(c: ControlContext, caller: Caller, instanceId: string, fn: (a: AgentClients) => Promise<T>): Promise<T> {
  const r = findInstance(c, caller, instanceId);
  if (r.status !== 'ACTIVE') throw conflict(`instance ${r.id} is ${r.status}; accounts can be changed only when it is ACTIVE`);
  try {
    return await withAgent(c, r, fn);
  } catch (err) {
    throw relayAgentError(err);
  }
}

const call = <Res = unknown>(a: AgentClients, method: string, req: object): Promise<Res> => agentCall<Res>(a.accounts, method, req);

/** The other members of the instance's cluster, when its strategy does not replicate account changes. */
function clusterPeers(c: ControlContext, r: InstanceRow): InstanceRow[] {
  const cluster = r.cluster_id ? c.clusters.get(r.cluster_id) : undefined;
  if (!cluster || strategyOf(cluster).replicatesAccounts) return [];
  return c.instances.clusterMembers(cluster.id).filter((m) => m.id !== r.id);
}

/** The other members of the instance's replication set or cluster, when its datastore does not replicate account changes. */
function accountPeers(c: ControlContext, r: InstanceRow): InstanceRow[] {
  if (r.cluster_id) return clusterPeers(c, r);
  const traits = REPLICATION_TRAITS[managerOf(c, r)];
  if (!traits || traits.replicatesAccounts) return [];
  const source = r.replica_of ? c.instances.get(r.replica_of) : r;
  if (!source) return [];
  return [source, ...c.instances.replicasOf(source.id)].filter((m) => m.id !== r.id);
}

/**
 * A user change: made on the instance, then on each other member of its set
 * where the datastore needs it (accountPeers). A member that is not ACTIVE,
 * or whose agent refuses, is named in a 409 after the others got the change,
 * so the caller knows where to repeat it.
 */
async function onSet(c: ControlContext, caller: Caller, instanceId: string, what: string, fn: (a: AgentClients) => Promise<void>, peersOf = accountPeers): Promise<void> {
  await onAgent(c, caller, instanceId, fn);
  const missed: string[] = [];
  for (const m of peersOf(c, findInstance(c, caller, instanceId))) {
    if (m.status !== 'ACTIVE') {
      missed.push(`${m.name} (${m.id}, ${m.status})`);
      continue;
    }
    try {
      await withAgent(c, m, fn);
    } catch (err) {
      missed.push(`${m.name} (${m.id}: ${relayAgentError(err).message})`);
    }
  }
  if (missed.length) {
    const group = findInstance(c, caller, instanceId).cluster_id ? 'cluster' : 'replication set';
    throw conflict(`${what} was made on instance ${instanceId} but not on these members of its ${group}, which keep their own users: ${missed.join('; ')}; repeat it on each once it is ACTIVE`);
  }
}

/** Follows the agent's marker pagination to the end. */
async function listAll<T>(a: AgentClients, method: string, field: string): Promise<T[]> {
  const out: T[] = [];
  let marker = '';
  for (let i = 0; i < 1000; i++) {
    const r = await call<Record<string, unknown>>(a, method, { page: { marker, limit: 1000, includeMarker: false } });
    out.push(...((r[field] as T[]) ?? []));
    marker = (r.nextMarker as string) ?? '';
    if (!marker) break;
  }
  return out;
}

const noPassword = (u: User): User => ({ ...u, password: '' });

export const listDatabases = (c: ControlContext, caller: Caller, instanceId: string): Promise<Database[]> =>
  onAgent(c, caller, instanceId, (a) => listAll<Database>(a, 'listDatabases', 'databases'));

export const createDatabases = (c: ControlContext, caller: Caller, instanceId: string, databases: Database[]): Promise<void> =>
  onAgent(c, caller, instanceId, async (a) => void (await call(a, 'createDatabases', { databases })));

export const deleteDatabase = (c: ControlContext, caller: Caller, instanceId: string, name: string): Promise<void> =>
  onAgent(c, caller, instanceId, async (a) => void (await call(a, 'deleteDatabase', { name })));

export const listUsers = (c: ControlContext, caller: Caller, instanceId: string): Promise<User[]> =>
  onAgent(c, caller, instanceId, async (a) => (await listAll<User>(a, 'listUsers', 'users')).map(noPassword));

export const getUser = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef): Promise<User> =>
  onAgent(c, caller, instanceId, async (a) => noPassword((await call<{ user: User }>(a, 'getUser', u)).user));

export const createUsers = (c: ControlContext, caller: Caller, instanceId: string, users: User[]): Promise<void> =>
  onSet(c, caller, instanceId, 'the user creation', async (a) => void (await call(a, 'createUsers', { users })));

export const deleteUser = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef): Promise<void> =>
  onSet(c, caller, instanceId, 'the user deletion', async (a) => void (await call(a, 'deleteUser', u)));

export interface UserChanges {
  newName?: string;
  newHost?: string;
  newPassword?: string;
}

export const updateUser = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef, changes: UserChanges): Promise<void> =>
  onSet(c, caller, instanceId, 'the user change', async (a) =>
    void (await call(a, 'updateUserAttributes', { ...u, newName: changes.newName ?? '', newHost: changes.newHost ?? '', newPassword: changes.newPassword ?? '' })),
  );

/** Each user's name, host and new password. */
export const changePasswords = (c: ControlContext, caller: Caller, instanceId: string, users: User[]): Promise<void> =>
  onSet(c, caller, instanceId, 'the password change', async (a) => void (await call(a, 'changePasswords', { users })));

export const listAccess = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef): Promise<Database[]> =>
  onAgent(c, caller, instanceId, async (a) => (await call<{ databases: Database[] }>(a, 'listAccess', u)).databases ?? []);

export const grantAccess = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef, databases: string[]): Promise<void> =>
  onAgent(c, caller, instanceId, async (a) => void (await call(a, 'grantAccess', { ...u, databases })));

export const revokeAccess = (c: ControlContext, caller: Caller, instanceId: string, u: UserRef, database: string): Promise<void> =>
  onAgent(c, caller, instanceId, async (a) => void (await call(a, 'revokeAccess', { ...u, database })));

/**
 * Enables root (with `password`, or a generated one) and returns its name
 * and password. Where the members keep their own accounts, every other
 * member is given the same password.
 */
export async function enableRoot(c: ControlContext, caller: Caller, instanceId: string, password: string): Promise<{ name: string; password: string }> {
  let out = { name: 'root', password };
  await onSet(c, caller, instanceId, 'the root enable', async (a) => {
    const r = await call<{ user?: User; password: string }>(a, 'enableRoot', { password: out.password });
    out = { name: r.user?.name || 'root', password: r.password };
  }, clusterPeers);
  return out;
}

export const disableRoot = (c: ControlContext, caller: Caller, instanceId: string): Promise<void> =>
  onSet(c, caller, instanceId, 'the root disable', async (a) => void (await call(a, 'disableRoot', {})), clusterPeers);

export const isRootEnabled = (c: ControlContext, caller: Caller, instanceId: string): Promise<boolean> =>
  onAgent(c, caller, instanceId, async (a) => (await call<{ enabled: boolean }>(a, 'isRootEnabled', {})).enabled);
