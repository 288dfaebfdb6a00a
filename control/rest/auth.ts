// X-Auth-Token → caller. The token must be one made by `coffer-control token
// create`; the project in the path must be the token's own, unless it is an
// admin token, which may act on any existing project. Handlers then act as
// that project (never as "every project"): another project's resources do
// not exist for them (404), and what they create belongs to the path's
// project. Runs at onRequest, before the body is read.
import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { authenticate } from '../store/tokens.js';
import { RestError } from './faults.js';
import './request.js';

export function authenticateRequest(db: Db, req: FastifyRequest): void {
  const header = req.headers['x-auth-token'];
  const token = Array.isArray(header) ? header[0] : header;
  if (!token) throw new RestError(401, 'no token: send the X-Auth-Token header (create one with `coffer-control token create`)');
  const scope = authenticate(db, token);
  if (!scope) throw new RestError(401, 'the token is not known');
  const project = (req.params as { project_id?: string }).project_id ?? '';
  if (project !== scope.project) {
    if (!scope.admin) throw new RestError(403, `the token is for project ${scope.project}; it cannot act on project ${project}`);
    const exists = db.prepare('SELECT 1 FROM projects WHERE name = ?').get(project);
    if (!exists) throw new RestError(404, `project ${project} does not exist`);
  }
  req.caller = { project, admin: false };
  req.adminToken = scope.admin;
}
