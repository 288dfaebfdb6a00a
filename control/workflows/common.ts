// Bookkeeping shared by workflows.
import type { ControlContext } from '../context.js';

/** The instance goes to ERROR with a fault naming the step and why. */
export function failInstance(c: ControlContext, instanceId: string, step: string, message: string): void {
  if (!c.instances.get(instanceId)) return;
  c.instances.update(instanceId, { status: 'ERROR', task_id: null });
  c.instances.addFault(instanceId, step, message);
  c.events.emit('instance', instanceId);
}
