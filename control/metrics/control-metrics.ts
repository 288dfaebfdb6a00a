// The control's Prometheus metrics (docs/metrics.md lists them). Loaded
// only when /metrics is served (server.ts imports this file on demand).
//
// What SQLite holds (instances, heartbeats, running tasks) is read when
// scraped, so a scrape always agrees with the API and nothing is kept in
// step with the database. What happens (task steps, requests) is counted as
// it happens, through the task engine's observer, a fastify hook and a
// grpc-js server interceptor. One private registry, not prom-client's
// global one.
import * as grpc from '@grpc/grpc-js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import type { TaskObserver } from '../tasks/task-observer.js';

/** Requests: from a token check to a long list; longer ones are streams. */
const REQUEST_BUCKETS = [0.005, 0.025, 0.1, 0.25, 1, 5];
/** A step: from a bookkeeping commit to a Prepare from a large backup. */
const STEP_BUCKETS = [0.1, 0.5, 2, 10, 30, 120, 600, 1800];
/** A task: seconds (a restart) to an hour (a large restore or cluster). */
const TASK_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 900, 3600];

export interface ControlMetrics {
  readonly registry: Registry;
  readonly tasks: TaskObserver;
  /** One REST request answered; `route` is the route's pattern (bounded), never the URL. */
  observeRest(method: string, route: string, code: number, seconds: number): void;
  /** Counts and times every call of the gRPC server it is given to. */
  readonly grpcInterceptor: grpc.ServerInterceptor;
}

export function createControlMetrics(db: Db): ControlMetrics {
  const registry = new Registry();
  const register = [registry];
  collectDefaultMetrics({ register: registry });

  const byStatus = db.prepare(
    // As the API shows it: an ACTIVE instance waiting for a restart is RESTART_REQUIRED.
    `SELECT CASE WHEN status = 'ACTIVE' AND restart_required = 1 THEN 'RESTART_REQUIRED' ELSE status END AS status, datastore, COUNT(*) AS n
     FROM instances GROUP BY 1, datastore`,
  );
  new Gauge({
    name: 'coffer_control_instances',
    help: 'Instances by status (BUILD, ACTIVE, ERROR, ...) and datastore, as the control records them; a pair with none is absent',
    labelNames: ['status', 'datastore'],
    registers: register,
    collect() {
      this.reset();
      for (const r of byStatus.all() as Array<{ status: string; datastore: string; n: number }>) this.set({ status: r.status, datastore: r.datastore }, r.n);
    },
  });

  // A gauge per instance, not a histogram: an alert on a silent agent must
  // say which instance it is, and a histogram keeps only how many agents
  // fall in each age bucket. One series per instance whose agent was ever
  // heard, gone when the instance is deleted: as many series as instances.
  const heartbeats = db.prepare('SELECT h.instance_id AS id, h.received_at AS at FROM instance_heartbeats h JOIN instances i ON i.id = h.instance_id');
  new Gauge({
    name: 'coffer_control_instance_heartbeat_age_seconds',
    help: 'Seconds since the control last received a heartbeat from the instance\'s agent; absent until the agent was first heard',
    labelNames: ['instance_id'],
    registers: register,
    collect() {
      this.reset();
      const now = Date.now();
      for (const r of heartbeats.all() as Array<{ id: string; at: number }>) this.set({ instance_id: r.id }, Math.max(0, now - r.at) / 1000);
    },
  });

  const running = db.prepare("SELECT kind, COUNT(*) AS n FROM tasks WHERE state = 'RUNNING' GROUP BY kind");
  new Gauge({
    name: 'coffer_control_tasks_running',
    help: 'Tasks running now (or waiting for the next control start to resume), by workflow',
    labelNames: ['workflow'],
    registers: register,
    collect() {
      this.reset();
      for (const r of running.all() as Array<{ kind: string; n: number }>) this.set({ workflow: r.kind }, r.n);
    },
  });

  const stepSeconds = new Histogram({
    name: 'coffer_control_task_step_duration_seconds',
    help: 'How long each attempt of a task step took, by workflow, step and result (success, retry, failure)',
    labelNames: ['workflow', 'step', 'result'],
    buckets: STEP_BUCKETS,
    registers: register,
  });
  const taskSeconds = new Histogram({
    name: 'coffer_control_task_duration_seconds',
    help: 'How long tasks took from submission to their end, by workflow and result (succeeded, failed)',
    labelNames: ['workflow', 'result'],
    buckets: TASK_BUCKETS,
    registers: register,
  });
  const taskFailures = new Counter({
    name: 'coffer_control_task_failures_total',
    help: 'Tasks that failed, by workflow and the step they failed in',
    labelNames: ['workflow', 'step'],
    registers: register,
  });

  const restSeconds = new Histogram({
    name: 'coffer_control_rest_request_duration_seconds',
    help: 'REST (Trove v1.0) requests by method, route pattern and HTTP status; its _count is the request count',
    labelNames: ['method', 'route', 'code'],
    buckets: REQUEST_BUCKETS,
    registers: register,
  });
  const grpcSeconds = new Histogram({
    name: 'coffer_control_grpc_request_duration_seconds',
    help: 'gRPC API calls by service, method and status code, until the status was sent (a stream: its whole life); its _count is the call count',
    labelNames: ['service', 'method', 'code'],
    buckets: REQUEST_BUCKETS,
    registers: register,
  });

  return {
    registry,
    tasks: {
      stepEnded(workflow, step, result, seconds) {
        stepSeconds.observe({ workflow, step, result }, seconds);
      },
      taskEnded(workflow, result, seconds, failedStep) {
        taskSeconds.observe({ workflow, result }, seconds);
        if (result === 'failed') taskFailures.inc({ workflow, step: failedStep ?? '' });
      },
    },
    observeRest(method, route, code, seconds) {
      restSeconds.observe({ method, route, code: String(code) }, seconds);
    },
    grpcInterceptor: (descriptor, call) => {
      const started = performance.now();
      // "/coffer.control.v1.InstanceService/CreateInstance": only methods
      // the server registered reach an interceptor, so the set is fixed.
      const [, service = '', method = ''] = descriptor.path.split('/');
      let ended = false;
      const end = (code: grpc.status): void => {
        if (ended) return;
        ended = true;
        grpcSeconds.observe({ service, method, code: grpc.status[code] ?? String(code) }, (performance.now() - started) / 1000);
      };
      return new grpc.ServerInterceptingCall(call, {
        start: (next) => next({ onCancel: () => end(grpc.status.CANCELLED) }),
        sendStatus: (status, next) => {
          end(status.code);
          next(status);
        },
      });
    },
  };
}
