// /v1.0/{project_id}/instances/{id}/databases, /users and /root, relayed to
// the instance's agent through the service layer.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import * as svc from '../service/accounts.js';
import { callerOf, listBody, pageArray, pageOf } from './request.js';
import { toDatabase, toUser } from './routes-instances.js';
import { S } from './schemas.js';
import { databaseView, userView } from './views.js';

type P<T = object> = FastifyRequest<{ Params: { project_id: string; id: string } & T }>;

/** Trove's user path segment: "name" or "name@host" (the client percent-encodes it, "." as %2e). */
export function userRef(segment: string): svc.UserRef {
  const at = segment.lastIndexOf('@');
  return at > 0 ? { name: segment.slice(0, at), host: segment.slice(at + 1) || '%' } : { name: segment, host: '%' };
}

export function accountRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/instances/:id';

  app.get(`${base}/databases`, { schema: { summary: 'List databases', params: S.instanceParams, querystring: S.page } }, async (req: P) => {
    const page = pageOf(req);
    const r = pageArray(await svc.listDatabases(c, callerOf(req), req.params.id), (d) => d.name, page);
    return listBody(req, 'databases', `instances/${req.params.id}/databases`, r.items.map(databaseView), page.limit, r.nextMarker);
  });
  app.post(`${base}/databases`, { schema: { summary: 'Create databases (202)', params: S.instanceParams, body: S.databases } }, async (req: P, reply) => {
    await svc.createDatabases(c, callerOf(req), req.params.id, (req.body as { databases: Array<{ name: string }> }).databases.map(toDatabase));
    return reply.code(202).send();
  });
  app.delete(`${base}/databases/:name`, { schema: { summary: 'Delete a database (202)', params: S.databaseParams } }, async (req: P<{ name: string }>, reply) => {
    await svc.deleteDatabase(c, callerOf(req), req.params.id, req.params.name);
    return reply.code(202).send();
  });

  app.get(`${base}/users`, { schema: { summary: 'List users', params: S.instanceParams, querystring: S.page } }, async (req: P) => {
    const page = pageOf(req);
    const r = pageArray(await svc.listUsers(c, callerOf(req), req.params.id), (u) => `${u.name}@${u.host || '%'}`, page);
    return listBody(req, 'users', `instances/${req.params.id}/users`, r.items.map(userView), page.limit, r.nextMarker);
  });
  app.post(`${base}/users`, { schema: { summary: 'Create users (202)', params: S.instanceParams, body: S.users } }, async (req: P, reply) => {
    await svc.createUsers(c, callerOf(req), req.params.id, (req.body as { users: Parameters<typeof toUser>[0][] }).users.map(toUser));
    return reply.code(202).send();
  });
  app.put(`${base}/users`, { schema: { summary: 'Change users\' passwords (202)', params: S.instanceParams, body: S.changePasswords } }, async (req: P, reply) => {
    const users = (req.body as { users: Array<{ name: string; host?: string | null; password: string }> }).users;
    await svc.changePasswords(c, callerOf(req), req.params.id, users.map((u) => ({ name: u.name, host: u.host || '%', password: u.password, databases: [], rules: [] })));
    return reply.code(202).send();
  });
  app.get(`${base}/users/:user`, { schema: { summary: 'Show a user', params: S.userParams } }, async (req: P<{ user: string }>) => ({
    user: userView(await svc.getUser(c, callerOf(req), req.params.id, userRef(req.params.user))),
  }));
  app.put(`${base}/users/:user`, { schema: { summary: 'Update a user: name, host, password (202)', params: S.userParams, body: S.updateUser } }, async (req: P<{ user: string }>, reply) => {
    const u = (req.body as { user: { name?: string; host?: string | null; password?: string } }).user;
    await svc.updateUser(c, callerOf(req), req.params.id, userRef(req.params.user), { newName: u.name, newHost: u.host ?? undefined, newPassword: u.password });
    return reply.code(202).send();
  });
  app.delete(`${base}/users/:user`, { schema: { summary: 'Delete a user (202)', params: S.userParams } }, async (req: P<{ user: string }>, reply) => {
    await svc.deleteUser(c, callerOf(req), req.params.id, userRef(req.params.user));
    return reply.code(202).send();
  });

  app.get(`${base}/users/:user/databases`, { schema: { summary: 'List the databases a user can access', params: S.userParams } }, async (req: P<{ user: string }>) => ({
    databases: (await svc.listAccess(c, callerOf(req), req.params.id, userRef(req.params.user))).map(databaseView),
  }));
  app.put(`${base}/users/:user/databases`, { schema: { summary: 'Grant a user access to databases (202)', params: S.userParams, body: S.grant } }, async (req: P<{ user: string }>, reply) => {
    const names = (req.body as { databases: Array<{ name: string }> }).databases.map((d) => d.name);
    await svc.grantAccess(c, callerOf(req), req.params.id, userRef(req.params.user), names);
    return reply.code(202).send();
  });
  app.delete(`${base}/users/:user/databases/:database`, { schema: { summary: 'Revoke a user\'s access to a database (202)', params: S.userAccessParams } }, async (req: P<{ user: string; database: string }>, reply) => {
    await svc.revokeAccess(c, callerOf(req), req.params.id, userRef(req.params.user), req.params.database);
    return reply.code(202).send();
  });

  app.post(`${base}/root`, { schema: { summary: 'Enable root; answers its name and password', params: S.instanceParams, body: S.enableRoot } }, async (req: P) => {
    const password = (req.body as { password?: string } | null | undefined)?.password ?? '';
    const r = await svc.enableRoot(c, callerOf(req), req.params.id, password);
    return { user: { name: r.name, password: r.password } };
  });
  app.get(`${base}/root`, { schema: { summary: 'Whether root is enabled', params: S.instanceParams } }, async (req: P) => ({
    rootEnabled: await svc.isRootEnabled(c, callerOf(req), req.params.id),
  }));
  app.delete(`${base}/root`, { schema: { summary: 'Disable root (204)', params: S.instanceParams } }, async (req: P, reply) => {
    await svc.disableRoot(c, callerOf(req), req.params.id);
    return reply.code(204).send();
  });
}
