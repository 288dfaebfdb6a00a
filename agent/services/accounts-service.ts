import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import { AccountServiceService, type AccountServiceServer } from '../../proto/gen/coffer/agent/v1/accounts.js';
import type { Agent } from '../agent.js';
import { unimplemented } from '../errors.js';
import type { AccountsCapability } from '../managers/manager.js';
import { unary } from './handlers.js';

export function addAccountService(server: grpc.Server, agent: Agent, log: Logger): void {
  // Every call needs a running datastore and the capability.
  const accounts = (what: string): AccountsCapability => {
    const a = agent.manager.accounts;
    if (!a) throw unimplemented('accounts', agent.manager.name);
    agent.requireRunning(what);
    return a;
  };
  const impl: AccountServiceServer = {
    listDatabases: unary(log, 'ListDatabases', async (req) => accounts('list databases').listDatabases(req.page ?? { marker: '', limit: 0, includeMarker: false })),
    createDatabases: unary(log, 'CreateDatabases', async (req) => {
      await accounts('create databases').createDatabases(req.databases);
      return {};
    }),
    deleteDatabase: unary(log, 'DeleteDatabase', async (req) => {
      await accounts('delete a database').deleteDatabase(req.name);
      return {};
    }),
    listUsers: unary(log, 'ListUsers', async (req) => accounts('list users').listUsers(req.page ?? { marker: '', limit: 0, includeMarker: false })),
    getUser: unary(log, 'GetUser', async (req) => ({ user: await accounts('get a user').getUser(req.name, req.host) })),
    createUsers: unary(log, 'CreateUsers', async (req) => {
      await accounts('create users').createUsers(req.users);
      return {};
    }),
    deleteUser: unary(log, 'DeleteUser', async (req) => {
      await accounts('delete a user').deleteUser(req.name, req.host);
      return {};
    }),
    updateUserAttributes: unary(log, 'UpdateUserAttributes', async (req) => {
      await accounts('update a user').updateUserAttributes(req.name, req.host, req);
      return {};
    }),
    changePasswords: unary(log, 'ChangePasswords', async (req) => {
      await accounts('change passwords').changePasswords(req.users);
      return {};
    }),
    grantAccess: unary(log, 'GrantAccess', async (req) => {
      await accounts('grant access').grantAccess(req.name, req.host, req.databases);
      return {};
    }),
    revokeAccess: unary(log, 'RevokeAccess', async (req) => {
      await accounts('revoke access').revokeAccess(req.name, req.host, req.database);
      return {};
    }),
    listAccess: unary(log, 'ListAccess', async (req) => ({ databases: await accounts('list access').listAccess(req.name, req.host) })),
    enableRoot: unary(log, 'EnableRoot', async (req) => accounts('enable root').enableRoot(req.password)),
    disableRoot: unary(log, 'DisableRoot', async () => {
      await accounts('disable root').disableRoot();
      return {};
    }),
    isRootEnabled: unary(log, 'IsRootEnabled', async () => ({ enabled: await accounts('check root').isRootEnabled() })),
  };
  server.addService(AccountServiceService, impl);
}
