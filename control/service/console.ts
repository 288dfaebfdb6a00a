// Which agent a console session goes to: an instance of the caller's
// project (another project's does not exist for them), running. The
// stream itself is relayed by control/api/console-service.ts.
import type { InstanceRow } from '../store/instances.js';
import { allocationOf, type ControlContext } from '../context.js';
import type { AgentClients } from '../agent-client.js';
import { conflict } from '../errors.js';
import type { Caller } from './caller.js';
import { findInstance } from './instances.js';

/** Statuses whose datastore runs and takes logins. */
const CONSOLE_STATUSES: readonly string[] = ['ACTIVE', 'RESTART_REQUIRED'];

/** The instance's agent, connected; the caller closes the clients. */
export function consoleAgent(c: ControlContext, caller: Caller, instanceId: string): { instance: InstanceRow; clients: AgentClients } {
  const r = findInstance(c, caller, instanceId);
  if (!CONSOLE_STATUSES.includes(r.status)) throw conflict(`instance ${r.id} is ${r.status}; a console needs it ACTIVE`);
  const a = allocationOf(r);
  if (!a) throw conflict(`instance ${r.id} has no compute allocation yet`);
  return { instance: r, clients: c.connector.connect(r.id, a.agentAddress) };
}
