// PLACEHOLDER until wt-control's "control submit:" commit lands: the
// signatures the replication workflows expose to the service layer
// (control/service/replication.ts). Merging wt-control replaces this file
// with the real one; these only refuse.
import type { ControlContext } from '../../context.js';
import { ControlError } from '../../errors.js';
import type { InstanceRow } from '../../store/instances.js';

const unavailable = (): never => {
  throw new ControlError('CONTROL_ERR_UNAVAILABLE', 'replication workflows are not available in this build');
};

export function submitCreateReplicas(_c: ControlContext, _project: string, _req: { source: InstanceRow; names: string[]; autoFailover: boolean }): { replicas: InstanceRow[]; taskId: string } {
  return unavailable();
}

export function submitSwitchover(_c: ControlContext, _replica: InstanceRow): string {
  return unavailable();
}

export function submitEject(_c: ControlContext, _source: InstanceRow): string {
  return unavailable();
}

export function submitDetach(_c: ControlContext, _replica: InstanceRow): string {
  return unavailable();
}
