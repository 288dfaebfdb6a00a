// /v1.0/{project_id}/instances/{id}/log: Trove's guest logs. GET lists them;
// POST {name, enable|disable|publish|discard} acts on one and shows it
// (troveclient sends each flag as 1; without one it is `log show`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LogInfo } from '../../proto/gen/coffer/agent/v1/logs.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/logs.js';
import { callerOf } from './request.js';

const flag = { anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: 1 }] };

const actionBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 64 },
    enable: flag,
    disable: flag,
    publish: flag,
    discard: flag,
  },
} as const;

const params = {
  type: 'object',
  required: ['project_id', 'id'],
  properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

/** Trove's guest log view (guest_log.py show()). */
export function logView(l: LogInfo): Record<string, unknown> {
  return {
    name: l.name,
    type: l.type,
    status: l.status,
    published: l.publishedBytes,
    pending: l.pendingBytes,
    container: l.container,
    prefix: l.prefix,
    metafile: l.metafile,
  };
}

type Req = FastifyRequest<{ Params: { project_id: string; id: string } }>;
const on = (v: boolean | number | undefined): boolean => v === true || v === 1;

export function logRoutes(app: FastifyInstance, c: ControlContext): void {
  const base = '/v1.0/:project_id/instances/:id/log';
  app.get(base, { schema: { summary: "List an instance's guest logs", params } }, async (req: Req) => ({
    logs: (await svc.listLogs(c, callerOf(req), req.params.id)).map(logView),
  }));

  app.post(base, { schema: { summary: 'Show, enable, disable, publish or discard a guest log', params, body: actionBody } }, async (req: Req) => {
    const b = req.body as { name: string; enable?: boolean | number; disable?: boolean | number; publish?: boolean | number; discard?: boolean | number };
    const log = await svc.logAction(c, callerOf(req), req.params.id, { name: b.name, enable: on(b.enable), disable: on(b.disable), publish: on(b.publish), discard: on(b.discard) });
    return { log: logView(log) };
  });
}
