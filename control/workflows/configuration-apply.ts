// The configuration-apply workflow: brings each listed instance's overrides
// to the values of the group attached to it now (none: no overrides), through
// its agent's UpdateOverrides (dynamic values applied live, the others kept
// for the next restart). One task serves attach, detach and a group's change
// (every attached instance). Each instance's outcome is recorded on its row
// (config_state: applied, restart_required, failed with why) and as a
// progress event of the task, so a user sees how the change went where.
//
// Idempotent: the values are read when the step runs, not when the task was
// submitted, and an instance whose overrides already equal them is left
// alone; an instance done before a control restart is not done again.
import type { GetConfigurationResponse, UpdateOverridesResponse } from '../../proto/gen/coffer/agent/v1/configuration.js';
import { isRetryable } from '../../lib/retryable.js';
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { valuesOf } from '../store/configurations.js';
import type { InstanceRow } from '../store/instances.js';
import { PermanentStepError, type Workflow } from '../tasks/workflow.js';

export interface ApplyData {
  /** The group changed, attached or detached. */
  configurationId: string;
  instanceIds: string[];
  /** Instances done, with how: applied, restart_required, gone. */
  outcomes: Record<string, string>;
}

/**
 * The values the instance should run with: its group's now, or none. A
 * cluster member's start from the control's cluster member overrides
 * (--cluster-member-override), which the group's values take precedence
 * over: replacing a member's overrides must not drop them.
 */
export function wantedOverrides(c: ControlContext, row: InstanceRow): Record<string, string> {
  const g = row.configuration_id ? c.configurations.get(row.configuration_id) : undefined;
  return { ...(row.cluster_id ? c.config.clusterMemberOverrides : {}), ...(g ? valuesOf(g) : {}) };
}

/** Applies the values; true when one that changed waits for a restart. */
async function applyTo(c: ControlContext, row: InstanceRow, values: Record<string, string>): Promise<boolean> {
  return withAgent(c, row, async (a) => {
    const now = await agentCall<GetConfigurationResponse>(a.configuration, 'getConfiguration', {});
    const names = new Set([...Object.keys(now.overrides), ...Object.keys(values)]);
    const changed = new Set([...names].filter((n) => now.overrides[n] !== values[n]));
    if (!changed.size) return false;
    const res = await agentCall<UpdateOverridesResponse>(a.configuration, 'updateOverrides', { overrides: values, replace: true }, 120_000);
    // An unchanged static value sent again is reported as waiting too: only a change counts.
    return res.changes.some((ch) => ch.restartRequired && changed.has(ch.name));
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/**
 * The instance once no task of its own runs on it (a restart, a backup, a
 * resize): its agent may refuse a change meanwhile, and a restart finishing
 * must not race the values it would bring into force. Bounded by the
 * task's deadline (the signal). Undefined once the instance is gone. A
 * standalone instance being built is returned at once (its Prepare reads
 * the values); a cluster member stays BUILD long after its Prepare (until
 * the whole cluster is installed), so it is waited for like any task.
 */
async function quiet(c: ControlContext, id: string, signal: AbortSignal): Promise<InstanceRow | undefined> {
  for (;;) {
    const row = c.instances.get(id);
    if (!row || !row.task_id || (row.status === 'BUILD' && !row.cluster_id)) return row;
    await sleep(1000, signal);
  }
}

export function configurationApplyWorkflow(c: ControlContext): Workflow<ApplyData> {
  return {
    kind: 'configuration-apply',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'apply',
        async run(ctx) {
          const { data } = ctx;
          const failures: Array<{ row: InstanceRow; err: unknown }> = [];
          for (const id of data.instanceIds) {
            if (data.outcomes[id]) continue;
            const row = await quiet(c, id, ctx.signal);
            if (!row) {
              data.outcomes[id] = 'gone';
              continue;
            }
            if (row.status === 'BUILD') {
              // Its create task's Prepare reads the group's values (workflows/create.ts).
              c.instances.update(id, { config_state: 'applied', config_message: '' });
              data.outcomes[id] = 'applied';
              ctx.progress({ phase: 'applied', message: `${row.name} (${id}): takes the values as it is created` });
              ctx.save();
              continue;
            }
            try {
              const restart = await applyTo(c, row, wantedOverrides(c, row));
              const state = restart ? 'restart_required' : 'applied';
              c.instances.update(id, { config_state: state, config_message: '', ...(restart ? { restart_required: 1 } : {}) });
              data.outcomes[id] = state;
              ctx.progress({ phase: state, message: `${row.name} (${id}): ${restart ? 'applied; some values take effect at its next restart' : 'applied'}` });
            } catch (err) {
              const message = err instanceof Error ? err.message : String(err);
              c.instances.update(id, { config_state: 'failed', config_message: message });
              ctx.progress({ phase: 'failed', message: `${row.name} (${id}): ${message}` });
              failures.push({ row, err });
            }
            c.events.emit('instance', id);
            ctx.save();
          }
          if (!failures.length) return;
          // Worth another try (an agent restarting): the engine runs the step
          // again, and the instances done are not done twice.
          const retry = failures.find((f) => isRetryable(f.err));
          if (retry) throw retry.err;
          const what = failures.map((f) => `${f.row.name} (${f.row.id}): ${f.err instanceof Error ? f.err.message : String(f.err)}`).join('; ');
          throw new PermanentStepError(`could not apply the configuration to ${failures.length} of ${data.instanceIds.length} instance${data.instanceIds.length > 1 ? 's' : ''}: ${what}`);
        },
      },
    ],
    onFailed: (_task, data, _step, message) => {
      // The instances this task did not reach say so; each keeps its status.
      for (const id of data.instanceIds) {
        const row = c.instances.get(id);
        if (row?.config_state === 'applying') c.instances.update(id, { config_state: 'failed', config_message: message });
      }
    },
  };
}
