// The create workflow: allocate, issue the instance's certificates, inject
// the agent's config, start the agent, Prepare the datastore (relaying its
// progress), mark ACTIVE. Each step checks what is done already, so it can
// run again after a control restart.
import type { RestoreTarget } from '../../proto/gen/coffer/agent/v1/archive.js';
import path from 'node:path';
import { deploymentBackup } from '../backup-settings.js';
import { BackupKeys, type ChainKey } from '../backup-keys.js';
import { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { RewrappedKey } from '../../proto/gen/coffer/agent/v1/common.js';
import type { Database, User } from '../../proto/gen/coffer/agent/v1/common.js';
import { DatastoreState, type PrepareResponse, type GetStatusResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { agentCall, agentStream } from '../agent-client.js';
import type { Allocation, CertSource } from '../compute/driver.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
import { PermanentStepError, type Step, type StepProgress, type Workflow } from '../tasks/workflow.js';
import type { SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import { failInstance } from './common.js';
import { wantedOverrides } from './configuration-apply.js';
import { waitForAgentBoot } from './agent-boot.js';

export interface CreateData {
  instanceId: string;
  manager: string;
  managerVersion: string;
  /** clusterPorts: a cluster member's named cluster ports (the driver reserves them). */
  resources: { vcpus: number; ramMb: number; volumeGb: number; clusterPorts?: string[] };
  prepare: { rootPassword: string; databases: Database[]; users: User[]; overrides: Record<string, string> };
  /** Restore from this backup (its artifact JSON), when created from a backup. */
  restore: { backupId: string; artifact: string; target?: RestoreTarget } | null;
  allocation?: Allocation;
  certs?: CertSource;
}

/** What a build step needs besides its instance's data. */
export interface BuildContext {
  readonly signal: AbortSignal;
  progress(p: StepProgress): void;
  /**
   * For a replica: how it reaches its source, built when Prepare is called
   * (its secret is derived then, never kept in task data).
   */
  readonly replicaOf?: () => SourceInfo | Promise<SourceInfo>;
}

/** One step of building an instance, run by the create workflow and, per replica, by create-replicas. */
export interface BuildStep {
  readonly name: string;
  run(data: CreateData, b: BuildContext): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The steps that build one instance: allocate, issue its certificates,
 * inject the agent's config, start the agent, Prepare. Each checks what is
 * done already, so it can run again after a control restart.
 */
export function buildSteps(c: ControlContext): readonly BuildStep[] {
  const row = (data: CreateData) => {
    const r = c.instances.get(data.instanceId);
    if (!r) throw new PermanentStepError(`instance ${data.instanceId} was deleted`);
    return r;
  };

  // Made when a step runs: building the workflow reads nothing but its deadline.
  const keys = (): BackupKeys => new BackupKeys(c.config.dataDir);
  const issueCertificates = (data: CreateData) => c.ca.issueInstance(data.instanceId, path.join(c.config.dataDir, 'certs', data.instanceId), data.allocation?.datastoreHost);

  return [
    {
      name: 'allocate',
      async run(data) {
        const a = await c.driver.allocate(data.instanceId, data.resources, data.allocation ?? allocationOf(row(data)));
        data.allocation = a;
        c.instances.update(data.instanceId, {
          compute: JSON.stringify(a),
          host: a.datastoreHost,
          port: a.datastorePort,
          agent_port: Number(a.agentAddress.split(':').pop()),
        });
        c.events.emit('instance', data.instanceId);
      },
    },
    {
      name: 'issue-certificate',
      async run(data) {
        data.certs = await issueCertificates(data);
      },
    },
    {
      name: 'inject-config',
      async run(data) {
        // A task recorded before datastores had a serving pair of their own
        // has only the identity pair: issue the rest (idempotent).
        if (!data.certs?.datastore) data.certs = await issueCertificates(data);
        // Its project's own wrapping key, never the deployment's
        // (backup-keys.ts); recorded, so a backup it reports is checked
        // against the key it was given.
        const inst = row(data);
        const key = keys().writeProjectKeyFile(inst.project, path.join(c.config.dataDir, 'certs', data.instanceId));
        if (inst.backup_key_id !== key.keyId) c.instances.update(data.instanceId, { backup_key_id: key.keyId });
        await c.driver.injectConfig(
          data.instanceId,
          data.allocation!,
          {
            instanceId: data.instanceId,
            datastore: data.manager,
            datastoreVersion: data.managerVersion,
            controlEndpoint: `${c.config.conductor.host}:${c.config.conductor.port}`,
            heartbeatSeconds: c.config.heartbeatMs / 1000,
            logLevel: c.config.logLevel,
            backupKeyFile: key.file,
            ...deploymentBackup(c.config.dataDir),
            backupStorage: c.config.backupStorage,
          },
          data.certs!,
        );
      },
    },
    {
      name: 'start-agent',
      async run(data, b) {
        await c.driver.create(data.instanceId, data.allocation!);
        await waitForAgentBoot(c, row(data), data.allocation!, b.signal);
      },
    },
    {
      name: 'prepare',
      async run(data, b) {
        await withAgent(c, row(data), async (a) => {
          // After a control restart the agent may be prepared already, or
          // still finishing (or cancelling) the Prepare we started.
          for (;;) {
            const s = await agentCall<GetStatusResponse>(a.lifecycle, 'getStatus', {}, 10_000);
            if (s.state === DatastoreState.DATASTORE_STATE_ACTIVE || s.state === DatastoreState.DATASTORE_STATE_RESTART_REQUIRED) return;
            if (s.state !== DatastoreState.DATASTORE_STATE_BUILDING) break;
            await sleep(1000);
          }
          const p = data.prepare;
          // A configuration group gives its values as they are now: a change
          // made while the instance was building is not lost.
          const group = row(data).configuration_id ? c.configurations.get(row(data).configuration_id!) : undefined;
          const req = {
            datastoreVersion: data.managerVersion,
            rootPassword: p.rootPassword,
            databases: p.databases,
            users: p.users,
            overrides: group ? wantedOverrides(c, row(data)) : p.overrides,
            restore: data.restore ? restoreSource(data.restore, chainRewraps(c, keys(), row(data).project, data.restore.backupId)) : undefined,
            replicaOf: await b.replicaOf?.(),
          };
          try {
            await agentStream<PrepareResponse>(
              a.lifecycle.prepare(req),
              (m) => m.progress && b.progress({ phase: m.progress.phase, message: m.progress.message, percent: m.progress.percent, bytesDone: m.progress.bytesDone, bytesTotal: m.progress.bytesTotal }),
              b.signal,
            );
          } catch (err) {
            // The cause keeps the agent's status: whether to ask again is the engine's call.
            throw new Error(`Prepare failed: ${(err as { details?: string }).details ?? String(err)}`, { cause: err });
          }
        });
      },
    },
  ];
}

export function createWorkflow(c: ControlContext): Workflow<CreateData> {
  const steps: Step<CreateData>[] = [
    ...buildSteps(c).map((s): Step<CreateData> => ({ name: s.name, run: (ctx) => s.run(ctx.data, ctx) })),
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
    scrub: scrubCreateData,
  };
}

/** The create data without its passwords, as it is kept once the task ended. */
export function scrubCreateData(data: CreateData): CreateData {
  return { ...data, prepare: { ...data.prepare, rootPassword: '', users: data.prepare.users.map((u) => ({ ...u, password: '' })) } };
}

function restoreSource(r: { backupId: string; artifact: string; target?: RestoreTarget }, rewrappedKeys: RewrappedKey[]) {
  const artifact = JSON.parse(r.artifact) as { location?: { storage: string; location: string } };
  return { backupId: r.backupId, location: artifact.location, rewrapped: rewrappedKeys.length ? { keys: rewrappedKeys } : undefined, target: r.target, archive: undefined };
}

/**
 * The backup and its parents as the control recorded them, for the rewrap
 * of those taken with the deployment-wide key (backup-keys.ts). The chain
 * is read from the records, newest first, parents by parent_id.
 */
function chainRewraps(c: ControlContext, keys: BackupKeys, project: string, backupId: string): RewrappedKey[] {
  const chain: ChainKey[] = [];
  for (let id: string | null = backupId; id && chain.length < 1000; ) {
    const b = c.backups.get(id);
    if (!b?.artifact) break;
    const enc = BackupArtifact.fromJSON(JSON.parse(b.artifact)).metadata?.encryption;
    if (enc?.keyId) chain.push({ backupId: b.id, project: b.project, keyId: enc.keyId, wrappedKey: Buffer.from(enc.wrappedKey) });
    id = b.parent_id;
  }
  return keys.legacyRewraps(project, chain);
}
