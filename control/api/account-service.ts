// coffer.control.v1.AccountService: databases, users and root, over the
// service layer (control/service/accounts.ts).
import type * as grpc from '@grpc/grpc-js';
import { AccountServiceService, type AccountServiceServer } from '../../proto/gen/coffer/control/v1/accounts.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/accounts.js';
import { unary } from './handlers.js';

export function addAccountService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: AccountServiceServer = {
    listDatabases: unary(deps, 'ListDatabases', async (req, scope) => ({ databases: await svc.listDatabases(c, scope, req.instanceId) })),
    createDatabases: unary(deps, 'CreateDatabases', async (req, scope) => (await svc.createDatabases(c, scope, req.instanceId, req.databases), {})),
    deleteDatabase: unary(deps, 'DeleteDatabase', async (req, scope) => (await svc.deleteDatabase(c, scope, req.instanceId, req.name), {})),
    listUsers: unary(deps, 'ListUsers', async (req, scope) => ({ users: await svc.listUsers(c, scope, req.instanceId) })),
    createUsers: unary(deps, 'CreateUsers', async (req, scope) => (await svc.createUsers(c, scope, req.instanceId, req.users), {})),
    deleteUser: unary(deps, 'DeleteUser', async (req, scope) => (await svc.deleteUser(c, scope, req.instanceId, { name: req.name, host: req.host }), {})),
    grantAccess: unary(deps, 'GrantAccess', async (req, scope) => (await svc.grantAccess(c, scope, req.instanceId, { name: req.name, host: req.host }, req.databases), {})),
    revokeAccess: unary(deps, 'RevokeAccess', async (req, scope) => (await svc.revokeAccess(c, scope, req.instanceId, { name: req.name, host: req.host }, req.database), {})),
    enableRoot: unary(deps, 'EnableRoot', (req, scope) => svc.enableRoot(c, scope, req.instanceId, req.password)),
    disableRoot: unary(deps, 'DisableRoot', async (req, scope) => (await svc.disableRoot(c, scope, req.instanceId), {})),
    isRootEnabled: unary(deps, 'IsRootEnabled', async (req, scope) => ({ enabled: await svc.isRootEnabled(c, scope, req.instanceId) })),
  };
  server.addService(AccountServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
