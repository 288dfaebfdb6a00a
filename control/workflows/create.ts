// The create workflow: allocate, issue the instance's certificates, inject
// the agent's config, start the agent, Prepare the datastore (relaying its
// progress), mark ACTIVE. Each step checks what is done already, so it can
// run again after a control restart.
import path from 'node:path';
import { deploymentBackup } from '../backup-settings.js';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { DatastoreState, type PrepareResponse, type GetStatusResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { agentCall, agentStream } from '../agent-client.js';
import type { Allocation, CertSource } from '../compute/driver.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
import { isRetryable } from '../../lib/retryable.js';
import { PermanentStepError, type Step, type StepContext, type Workflow } from '../tasks/workflow.js';
import { failInstance } from './common.js';

export interface CreateData {
  instanceId: string;
  manager: string;
  managerVersion: string;
  resources: { vcpus: number; ramMb: number; volumeGb: number };
  prepare: { rootPassword: string; databases: Database[]; users: User[]; overrides: Record<string, string> };
  /** Restore from this backup (its artifact JSON), when created from a backup. */
  restore: { backupId: string; artifact: string } | null;
  allocation?: Allocation;
  certs?: CertSource;
}

type Ctx = StepContext<CreateData>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createWorkflow(c: ControlContext): Workflow<CreateData> {
  const row = (ctx: Ctx) => {
    const r = c.instances.get(ctx.data.instanceId);
    if (!r) throw new PermanentStepError(`instance ${ctx.data.instanceId} was deleted`);
    return r;
  };

  const issueCertificates = (ctx: Ctx) => c.ca.issueInstance(ctx.data.instanceId, path.join(c.config.dataDir, 'certs', ctx.data.instanceId));

  const steps: Step<CreateData>[] = [
    {
      name: 'allocate',
      async run(ctx) {
        const a = await c.driver.allocate(ctx.data.instanceId, ctx.data.resources, ctx.data.allocation ?? allocationOf(row(ctx)));
        ctx.data.allocation = a;
        c.instances.update(ctx.data.instanceId, {
          compute: JSON.stringify(a),
          host: a.datastoreHost,
          port: a.datastorePort,
          agent_port: Number(a.agentAddress.split(':').pop()),
        });
        c.events.emit('instance', ctx.data.instanceId);
      },
    },
    {
      name: 'issue-certificate',
      async run(ctx) {
        ctx.data.certs = await issueCertificates(ctx);
      },
    },
    {
      name: 'inject-config',
      async run(ctx) {
        // A task recorded before datastores had a serving pair of their own
        // has only the identity pair: issue the rest (idempotent).
        if (!ctx.data.certs?.datastore) ctx.data.certs = await issueCertificates(ctx);
        await c.driver.injectConfig(
          ctx.data.instanceId,
          ctx.data.allocation!,
          {
            instanceId: ctx.data.instanceId,
            datastore: ctx.data.manager,
            datastoreVersion: ctx.data.managerVersion,
            controlEndpoint: `${c.config.conductor.host}:${c.config.conductor.port}`,
            heartbeatSeconds: c.config.heartbeatMs / 1000,
            logLevel: c.config.logLevel,
            ...deploymentBackup(c.config.dataDir),
            backupStorage: c.config.backupStorage,
          },
          ctx.data.certs!,
        );
      },
    },
    {
      name: 'start-agent',
      async run(ctx) {
        await c.driver.create(ctx.data.instanceId, ctx.data.allocation!);
        // The agent answers Ping once it listens; its certificate is checked on the way.
        let last: unknown;
        for (let i = 0; i < 60 && !ctx.signal.aborted; i++) {
          try {
            await withAgent(c, row(ctx), (a) => agentCall(a.lifecycle, 'ping', {}, 2000));
            return;
          } catch (err) {
            last = err;
            if (!isRetryable(err)) break;
            if ((await c.driver.status(ctx.data.instanceId, ctx.data.allocation!)) !== 'running' && i > 10) break;
            await sleep(500);
          }
        }
        throw new Error(`the agent did not answer: ${(last as Error)?.message ?? 'unknown'}`, { cause: last });
      },
    },
    {
      name: 'prepare',
      async run(ctx) {
        await withAgent(c, row(ctx), async (a) => {
          // After a control restart the agent may be prepared already, or
          // still finishing (or cancelling) the Prepare we started.
          for (;;) {
            const s = await agentCall<GetStatusResponse>(a.lifecycle, 'getStatus', {}, 10_000);
            if (s.state === DatastoreState.DATASTORE_STATE_ACTIVE || s.state === DatastoreState.DATASTORE_STATE_RESTART_REQUIRED) return;
            if (s.state !== DatastoreState.DATASTORE_STATE_BUILDING) break;
            await sleep(1000);
          }
          const p = ctx.data.prepare;
          const req = {
            datastoreVersion: ctx.data.managerVersion,
            rootPassword: p.rootPassword,
            databases: p.databases,
            users: p.users,
            overrides: p.overrides,
            restore: ctx.data.restore ? restoreSource(ctx.data.restore) : undefined,
            replicaOf: undefined,
          };
          try {
            await agentStream<PrepareResponse>(
              a.lifecycle.prepare(req),
              (m) => m.progress && ctx.progress({ phase: m.progress.phase, message: m.progress.message, percent: m.progress.percent }),
              ctx.signal,
            );
          } catch (err) {
            // The cause keeps the agent's status: whether to ask again is the engine's call.
            throw new Error(`Prepare failed: ${(err as { details?: string }).details ?? String(err)}`, { cause: err });
          }
        });
      },
    },
    {
      name: 'activate',
      commit(ctx) {
        c.instances.update(ctx.data.instanceId, { status: 'ACTIVE', task_id: null });
        c.events.emit('instance', ctx.data.instanceId);
      },
    },
  ];

  return {
    kind: 'create',
    steps,
    deadlineMs: c.config.taskDeadlineMs,
    onFailed: (task, data, step, message) => failInstance(c, data.instanceId, step, message),
    scrub: (data) => ({
      ...data,
      prepare: { ...data.prepare, rootPassword: '', users: data.prepare.users.map((u) => ({ ...u, password: '' })) },
    }),
  };
}

function restoreSource(r: { backupId: string; artifact: string }) {
  const artifact = JSON.parse(r.artifact) as { location?: { storage: string; location: string } };
  return { backupId: r.backupId, location: artifact.location };
}
