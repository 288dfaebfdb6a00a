// The cluster's own records as its workflows end: the task back to NONE,
// with the fault when one failed, and the members released. Called inside
// the engine's transactions (a commit step, onFailed).
import type { ControlContext } from '../../context.js';
import { failInstance } from '../common.js';

/** The cluster's task is over (NONE); a previous fault is cleared. */
export function endClusterTask(c: ControlContext, clusterId: string): void {
  if (!c.clusters.get(clusterId)) return;
  c.clusters.update(clusterId, { task: 'NONE', task_id: null, fault_step: null, fault_message: null });
  c.events.emit('cluster', clusterId);
}

/** The cluster's task failed: NONE again, with the step and why kept on the cluster. */
export function failClusterTask(c: ControlContext, clusterId: string, step: string, message: string): void {
  if (!c.clusters.get(clusterId)) return;
  c.clusters.update(clusterId, { task: 'NONE', task_id: null, fault_step: step, fault_message: message });
  c.events.emit('cluster', clusterId);
}

/** Members ACTIVE with no task. */
export function activateMembers(c: ControlContext, ids: readonly string[]): void {
  for (const id of ids) {
    if (!c.instances.get(id)) continue;
    c.instances.update(id, { status: 'ACTIVE', task_id: null });
    c.events.emit('instance', id);
  }
}

/**
 * After a failed task: the members it was building go to ERROR with the
 * fault; the others (ACTIVE members it only changed) are released.
 */
export function releaseMembers(c: ControlContext, ids: readonly string[], building: readonly string[], step: string, message: string): void {
  for (const id of ids) {
    const r = c.instances.get(id);
    if (!r) continue;
    if (building.includes(id) || r.status !== 'ACTIVE') failInstance(c, id, step, message);
    else {
      c.instances.update(id, { task_id: null });
      c.events.emit('instance', id);
    }
  }
}
