// Following a long operation: WatchInstance (create, restore, restart) and
// WatchTask (backup, delete) streams feed the progress display. Tasks are
// durable in coffer-control, so Ctrl-C only stops watching; the operation
// goes on and can be followed again.
import type { ClientReadableStream } from '@grpc/grpc-js';
import { InstanceStatus, type Instance, type WatchInstanceResponse } from '../proto/gen/coffer/control/v1/instances.js';
import type { GetTaskResponse, Task, WatchTaskResponse } from '../proto/gen/coffer/control/v1/tasks.js';
import type { TaskEvent } from '../proto/gen/coffer/control/v1/common.js';
import type { Cluster, WatchClusterResponse } from '../proto/gen/coffer/control/v1/clusters.js';
import type { Connection } from './connection.js';
import { CliError, EXIT } from './errors.js';
import type { ProgressDisplay } from './progress.js';
import { bytes, instanceStatus } from './views.js';

/**
 * How much of a task each step is, for one bar over the whole task: the steps
 * that move data or run the datastore's own setup take nearly all the time;
 * bookkeeping steps are quick. Unknown steps weigh 1.
 */
const STEP_WEIGHT: Readonly<Record<string, number>> = {
  prepare: 12,
  backup: 12,
  restore: 12,
  'start-agent': 2,
  'restart-datastore': 6,
  'delete-compute': 6,
  // create-replicas: one snapshot of the source, then every replica built
  // (Prepare restoring it) in parallel.
  snapshot: 8,
  build: 14,
  // switchover and rejoin: the old source catching up and its demotion.
  'candidate-catch-up': 3,
  'demote-source': 4,
  demote: 4,
  // clusters: every member's Prepare, then InstallCluster (a joiner takes a
  // full copy from a donor), and a shrink's clean leave.
  'build-members': 12,
  'install-bootstrap': 4,
  'install-joiners': 10,
  'install-members': 10,
  'delete-members': 6,
  leave: 3,
};

/** Turns step-local percentages into one that only moves forward. */
export class OverallProgress {
  private readonly starts = new Map<string, number>();
  private readonly weights = new Map<string, number>();
  private readonly total: number;
  private best = 0;

  constructor(steps: readonly string[]) {
    let at = 0;
    for (const s of steps) {
      const w = STEP_WEIGHT[s] ?? 1;
      this.starts.set(s, at);
      this.weights.set(s, w);
      at += w;
    }
    this.total = at;
  }

  percent(e: TaskEvent): number {
    const start = this.starts.get(e.step);
    const local = Math.max(0, Math.min(100, e.percent || 0));
    const p = start === undefined || this.total === 0 ? local : ((start + (this.weights.get(e.step)! * local) / 100) / this.total) * 100;
    if (e.phase === 'done') this.best = 100;
    this.best = Math.max(this.best, p);
    return this.best;
  }
}

export function label(e: TaskEvent): string {
  const what = e.phase && e.phase !== 'step' && e.phase !== 'done' ? `${e.step} (${e.phase})` : e.step;
  const size = e.bytesTotal > 0 ? ` [${bytes(e.bytesDone)} of ${bytes(e.bytesTotal)}]` : e.bytesDone > 0 ? ` [${bytes(e.bytesDone)}]` : '';
  return `${what}: ${e.message}${size}`;
}

async function stepsOf(conn: Connection, taskId: string): Promise<string[]> {
  if (!taskId) return [];
  const r = await conn.unary<GetTaskResponse>((md, o, cb) => conn.tasks.getTask({ id: taskId }, md, o, cb));
  return r.task?.steps.map((s) => s.name) ?? [];
}

/** Reads a stream to its end, calling `onData`; Ctrl-C cancels the watch (not the operation). */
function follow<T>(conn: Connection, stream: ClientReadableStream<T>, onData: (m: T) => void, interrupted: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      process.off('SIGINT', onSigint);
      if (err) reject(err);
      else resolve();
    };
    const onSigint = (): void => {
      finish(new CliError(interrupted, EXIT.INTERRUPTED));
      stream.cancel();
    };
    process.once('SIGINT', onSigint);
    stream.on('data', onData);
    stream.on('error', (err) => finish(conn.error(err)));
    stream.on('end', () => finish());
  });
}

/**
 * Follows an instance until it is ACTIVE, ERROR or SHUTDOWN with no task
 * running (or gone: then null), showing its task's progress.
 */
export async function followInstance(conn: Connection, display: ProgressDisplay, id: string, taskId: string, title: string): Promise<Instance | null> {
  const overall = new OverallProgress(await stepsOf(conn, taskId));
  let last: Instance | null = null;
  display.start(title);
  try {
    await follow<WatchInstanceResponse>(
      conn,
      conn.stream((md) => conn.instances.watchInstance({ id }, md)),
      (m) => {
        if (m.instance) last = m.instance;
        if (m.progress) display.update(overall.percent(m.progress), label(m.progress));
      },
      `stopped watching; the operation continues in coffer-control: follow it again with \`coffer instance watch ${id}\``,
    );
    const end = last as Instance | null;
    if (end && end.status === InstanceStatus.INSTANCE_STATUS_ACTIVE) display.update(100, `${end.name} is ACTIVE`);
  } finally {
    display.stop();
  }
  return last;
}

/** Follows a task to its end, showing its progress; returns the finished task. */
export async function followTask(conn: Connection, display: ProgressDisplay, taskId: string, title: string): Promise<Task | null> {
  const overall = new OverallProgress(await stepsOf(conn, taskId));
  let task: Task | null = null;
  display.start(title);
  try {
    await follow<WatchTaskResponse>(
      conn,
      conn.stream((md) => conn.tasks.watchTask({ id: taskId }, md)),
      (m) => {
        if (m.progress) display.update(overall.percent(m.progress), label(m.progress));
        if (m.task) task = m.task;
      },
      `stopped watching; task ${taskId} continues in coffer-control`,
    );
  } finally {
    display.stop();
  }
  return task;
}

/**
 * Follows a cluster until its task is NONE (or it is gone: then null),
 * showing its task's progress (every member's InstallCluster events) and
 * each member's status as it changes.
 */
export async function followCluster(conn: Connection, display: ProgressDisplay, id: string, taskId: string, title: string): Promise<Cluster | null> {
  const overall = new OverallProgress(await stepsOf(conn, taskId));
  let last: Cluster | null = null;
  let percent = 0;
  const seen = new Map<string, string>();
  display.start(title);
  try {
    await follow<WatchClusterResponse>(
      conn,
      conn.stream((md) => conn.clusters.watchCluster({ id }, md)),
      (m) => {
        if (m.progress) {
          // A member's InstallCluster ends with phase "done": its step's end,
          // not the task's (the watch ends with the task).
          const e = m.progress.phase === 'done' ? { ...m.progress, phase: 'step' } : m.progress;
          percent = overall.percent(e);
          display.update(percent, label(e));
        }
        if (m.cluster) {
          last = m.cluster;
          for (const i of m.cluster.instances) {
            const s = instanceStatus(i);
            if (seen.get(i.id) === s) continue;
            seen.set(i.id, s);
            display.update(percent, `${i.name}: ${s}`);
          }
        }
      },
      `stopped watching; the operation continues in coffer-control: follow it again with \`coffer cluster watch ${id}\``,
    );
    const end = last as Cluster | null;
    if (end && !end.fault && end.instances.every((i) => instanceStatus(i) === 'ACTIVE')) display.update(100, `${end.name}: every member is ACTIVE`);
  } finally {
    display.stop();
  }
  return last;
}
