// What the dashboard (docs/dashboard.md) shows that Trove's API has no
// route for: who the token is, an instance's recent tasks with their steps,
// faults and progress, its backups' sizes and durations over time, and its
// volume use as its agent reports it. Under /ui/api/{project_id}/, checked
// by the same X-Auth-Token hook as /v1.0/{project_id}/ (server.ts), so
// another project's instance does not exist here either.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GetStatusResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { agentCall } from '../agent-client.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
import * as svc from '../service/instances.js';
import type { TaskRow } from '../store/tasks.js';
import { authenticate } from '../store/tokens.js';
import { RestError } from './faults.js';
import { callerOf } from './request.js';
import { S } from './schemas.js';
import { time } from './views.js';

/** Enough for a page: the latest tasks of an instance and its backups. */
const RECENT_TASKS = 15;
/** The agent's status is asked for at most this long; the page polls again. */
const AGENT_TIMEOUT_MS = 3000;

type IdReq = FastifyRequest<{ Params: { project_id: string; id: string } }>;

function taskView(c: ControlContext, t: TaskRow): Record<string, unknown> {
  const last = t.state === 'RUNNING' ? c.tasks.lastEvent(t.id) : undefined;
  return {
    id: t.id,
    kind: t.kind,
    resource_id: t.resource_id,
    state: t.state,
    current_step: t.current_step,
    error: t.error || null,
    created: time(t.created_at),
    updated: time(t.updated_at),
    steps: c.tasks.steps(t.id).map((s) => ({
      name: s.name,
      state: s.state,
      attempts: s.attempts,
      error: s.error || null,
      seconds: s.started_at && s.finished_at ? (s.finished_at - s.started_at) / 1000 : null,
    })),
    progress: last ? { step: last.step, message: last.message, percent: last.percent, bytes_done: last.bytes_done, bytes_total: last.bytes_total } : null,
  };
}

/**
 * How long taking the backup took: its task's `backup` step (the agent's
 * work, without the wait before it or the bookkeeping after); from the
 * record's creation to its last change when the task is gone.
 */
function backupSeconds(c: ControlContext, taskId: string | null, created: number, updated: number): number {
  const step = taskId ? c.tasks.steps(taskId).find((s) => s.name === 'backup') : undefined;
  if (step?.started_at && step.finished_at) return (step.finished_at - step.started_at) / 1000;
  return (updated - created) / 1000;
}

export function dashboardRoutes(app: FastifyInstance, c: ControlContext): void {
  // Not under a project: the page learns its project from the token.
  app.get('/ui/api/session', { schema: { summary: 'The dashboard: the project of the X-Auth-Token' } }, async (req) => {
    const header = req.headers['x-auth-token'];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) throw new RestError(401, 'no token: send the X-Auth-Token header (create one with `coffer-control token create`)');
    const scope = authenticate(c.db, token);
    if (!scope) throw new RestError(401, 'the token is not known');
    return { project: scope.project, admin: scope.admin };
  });

  const base = '/ui/api/:project_id/instances/:id';
  app.get(`${base}/activity`, { schema: { summary: 'The dashboard: an instance\'s recent tasks and its backups\' history', params: S.instanceParams } }, async (req: IdReq) => {
    const caller = callerOf(req);
    const inst = svc.findInstance(c, caller, req.params.id);
    const backups = c.backups.list(caller, 1000, '', inst.id).sort((a, b) => a.created_at - b.created_at);
    const tasks = c.tasks.recentFor([inst.id, ...backups.map((b) => b.id)], caller, RECENT_TASKS);
    return {
      tasks: tasks.map((t) => taskView(c, t)),
      backups: backups.map((b) => {
        const task = b.task_id ? c.tasks.get(b.task_id) : undefined;
        const progress = task?.state === 'RUNNING' ? c.tasks.lastEvent(task.id) : undefined;
        return {
          id: b.id,
          name: b.name,
          status: b.status,
          kind: b.kind,
          size_bytes: b.size_bytes,
          created: time(b.created_at),
          created_ms: b.created_at,
          seconds: b.status === 'COMPLETED' ? backupSeconds(c, b.task_id, b.created_at, b.updated_at) : null,
          percent: progress ? progress.percent : null,
          bytes_done: progress ? progress.bytes_done : null,
        };
      }),
    };
  });

  app.get(`${base}/agent`, { schema: { summary: 'The dashboard: an instance\'s volume use as its agent reports it', params: S.instanceParams } }, async (req: IdReq) => {
    const inst = svc.findInstance(c, callerOf(req), req.params.id);
    const size = inst.volume_size_gb * 1024 ** 3;
    // Not asked while it is built or deleted: its agent is not (yet) there.
    if (!allocationOf(inst) || inst.status === 'BUILD' || inst.status === 'DELETING') return { volume: null, size_bytes: size, reason: `the instance is ${inst.status}` };
    try {
      const s = await withAgent(c, inst, (a) => agentCall<GetStatusResponse>(a.lifecycle, 'getStatus', {}, AGENT_TIMEOUT_MS));
      const v = s.volume;
      return {
        volume: v ? { used_bytes: Number(v.usedBytes), total_bytes: Number(v.totalBytes), data_bytes: Number(v.dataBytes) } : null,
        size_bytes: size,
        server_version: s.serverVersion,
        uptime_seconds: Number(s.uptimeSeconds),
      };
    } catch (err) {
      return { volume: null, size_bytes: size, reason: `the agent did not answer: ${(err as Error).message}` };
    }
  });
}
