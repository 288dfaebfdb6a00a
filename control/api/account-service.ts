// coffer.control.v1.AccountService: databases, users and root, relayed to
// the instance's agent once the caller's project owns the instance.
import type * as grpc from '@grpc/grpc-js';
import { AccountServiceService, type AccountServiceServer } from '../../proto/gen/coffer/control/v1/accounts.js';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { agentCall, relayAgentError, type AgentClients } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import type { Scope } from '../store/scope.js';
import { unary } from './handlers.js';

export function addAccountService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  /** Calls the agent of an ACTIVE instance in the caller's project. */
  const onAgent = async <T>(instanceId: string, scope: Scope, fn: (a: AgentClients) => Promise<T>): Promise<T> => {
    const r = instanceId ? c.instances.get(instanceId, scope) : undefined;
    if (!r) throw notFound('instance', instanceId);
    if (r.status !== 'ACTIVE') throw conflict(`instance ${r.id} is ${r.status}; accounts can be changed only when it is ACTIVE`);
    try {
      return await withAgent(c, r, fn);
    } catch (err) {
      throw relayAgentError(err);
    }
  };
  const call = <Res>(a: AgentClients, method: string, req: object) => agentCall<Res>(a.accounts, method, req);

  const impl: AccountServiceServer = {
    listDatabases: unary(deps, 'ListDatabases', (req, scope) =>
      onAgent(req.instanceId, scope, async (a) => ({ databases: await listAll<Database>(a, 'listDatabases', 'databases') })),
    ),
    createDatabases: unary(deps, 'CreateDatabases', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'createDatabases', { databases: req.databases }))),
    deleteDatabase: unary(deps, 'DeleteDatabase', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'deleteDatabase', { name: req.name }))),
    listUsers: unary(deps, 'ListUsers', (req, scope) =>
      onAgent(req.instanceId, scope, async (a) => ({ users: (await listAll<User>(a, 'listUsers', 'users')).map((u) => ({ ...u, password: '' })) })),
    ),
    createUsers: unary(deps, 'CreateUsers', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'createUsers', { users: req.users }))),
    deleteUser: unary(deps, 'DeleteUser', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'deleteUser', { name: req.name, host: req.host }))),
    grantAccess: unary(deps, 'GrantAccess', (req, scope) =>
      onAgent(req.instanceId, scope, (a) => call(a, 'grantAccess', { name: req.name, host: req.host, databases: req.databases })),
    ),
    revokeAccess: unary(deps, 'RevokeAccess', (req, scope) =>
      onAgent(req.instanceId, scope, (a) => call(a, 'revokeAccess', { name: req.name, host: req.host, database: req.database })),
    ),
    enableRoot: unary(deps, 'EnableRoot', (req, scope) =>
      onAgent(req.instanceId, scope, async (a) => {
        const r = await call<{ user?: User; password: string }>(a, 'enableRoot', { password: req.password });
        return { name: r.user?.name ?? 'root', password: r.password };
      }),
    ),
    disableRoot: unary(deps, 'DisableRoot', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'disableRoot', {}))),
    isRootEnabled: unary(deps, 'IsRootEnabled', (req, scope) => onAgent(req.instanceId, scope, (a) => call(a, 'isRootEnabled', {}))),
  };
  server.addService(AccountServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}

/** Follows the agent's marker pagination to the end. */
async function listAll<T>(a: AgentClients, method: string, field: string): Promise<T[]> {
  const out: T[] = [];
  let marker = '';
  for (let i = 0; i < 1000; i++) {
    const r = await agentCall<Record<string, unknown>>(a.accounts, method, { page: { marker, limit: 1000, includeMarker: false } });
    out.push(...((r[field] as T[]) ?? []));
    marker = (r.nextMarker as string) ?? '';
    if (!marker) break;
  }
  return out;
}
