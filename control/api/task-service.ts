// coffer.control.v1.TaskService: a task and a stream of its progress.
import type * as grpc from '@grpc/grpc-js';
import { TaskServiceService, type TaskServiceServer, type WatchTaskResponse } from '../../proto/gen/coffer/control/v1/tasks.js';
import type { ControlContext } from '../context.js';
import { notFound } from '../errors.js';
import type { ProgressRecord } from '../events.js';
import { toTask, toTaskEvent } from './convert.js';
import { serverStream, unary } from './handlers.js';

export function addTaskService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: TaskServiceServer = {
    getTask: unary(deps, 'GetTask', async (req, scope) => {
      const t = req.id ? c.tasks.get(req.id, scope) : undefined;
      if (!t) throw notFound('task', req.id);
      return { task: toTask(t, c.tasks.steps(t.id)) };
    }),
    watchTask: serverStream<{ id: string }, WatchTaskResponse>(deps, 'WatchTask', async (req, scope, write, signal) => {
      if (!req.id || !c.tasks.get(req.id, scope)) throw notFound('task', req.id);
      await new Promise<void>((resolve) => {
        let lastSeq = 0;
        const send = (e: ProgressRecord): void => {
          if (e.task_id !== req.id || e.seq <= lastSeq) return;
          lastSeq = e.seq;
          write({ progress: toTaskEvent(e), task: undefined });
        };
        const finish = (): void => {
          c.events.off('progress', send);
          c.events.off('task', onTask);
          resolve();
        };
        const onTask = (id: string): void => {
          if (id !== req.id) return;
          const t = c.tasks.get(id)!;
          if (t.state === 'RUNNING') return;
          for (const e of c.tasks.events(id, lastSeq)) send(e);
          write({ task: toTask(t, c.tasks.steps(id)), progress: undefined });
          finish();
        };
        c.events.on('progress', send);
        c.events.on('task', onTask);
        signal.addEventListener('abort', finish, { once: true });
        for (const e of c.tasks.events(req.id)) send(e);
        onTask(req.id);
      });
    }),
  };
  server.addService(TaskServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
