// An instance's guest logs (docs/logs.md), relayed to its agent once the
// caller's project owns the instance: list, Trove's log action (enable,
// disable, discard, publish, in that order) and the live tail.
import type { LogInfo } from '../../proto/gen/coffer/agent/v1/logs.js';
import { agentCall, agentStream, relayAgentError, type AgentClients } from '../agent-client.js';
import { allocationOf, withAgent, type ControlContext } from '../context.js';
import { ControlError, conflict, invalid } from '../errors.js';
import type { Caller } from './caller.js';
import { findInstance } from './instances.js';

/** What POST /instances/{id}/log and coffer log ask for. */
export interface LogAction {
  readonly name: string;
  readonly enable?: boolean;
  readonly disable?: boolean;
  readonly publish?: boolean;
  readonly discard?: boolean;
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const PUBLISH_TIMEOUT_MS = 10 * 60_000;

function checkName(name: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw invalid(`log name ${JSON.stringify(String(name ?? '').slice(0, 64))} is not a log name (lowercase letters, digits and _, at most 64; list them with GET /instances/{id}/log)`);
}

async function onAgent<T>(c: ControlContext, caller: Caller, instanceId: string, fn: (a: AgentClients) => Promise<T>): Promise<T> {
  const r = findInstance(c, caller, instanceId);
  if (!allocationOf(r)) throw conflict(`instance ${r.id} is ${r.status}; its logs can be read once its agent runs`);
  try {
    return await withAgent(c, r, fn);
  } catch (err) {
    throw err instanceof ControlError ? err : relayAgentError(err);
  }
}

export async function listLogs(c: ControlContext, caller: Caller, instanceId: string): Promise<LogInfo[]> {
  return onAgent(c, caller, instanceId, async (a) => (await agentCall<{ logs: LogInfo[] }>(a.logs, 'listLogs', {})).logs);
}

export async function logAction(c: ControlContext, caller: Caller, instanceId: string, action: LogAction): Promise<LogInfo> {
  checkName(action.name);
  if (action.enable && action.disable) throw invalid(`cannot both enable and disable log ${action.name}`);
  return onAgent(c, caller, instanceId, async (a) => {
    // Each step answers the log as it left it: the last one is what is shown
    // (a later list would already count lines written since, the agent's
    // own queries among them).
    let last: LogInfo | undefined;
    const step = async (method: string, req: object, timeoutMs?: number): Promise<void> => {
      last = (await agentCall<{ log?: LogInfo }>(a.logs, method, req, timeoutMs)).log ?? last;
    };
    if (action.enable) await step('setLogEnabled', { name: action.name, enabled: true });
    if (action.discard) await step('discardLog', { name: action.name });
    if (action.publish) await step('publishLog', { name: action.name, storage: { storage: '', location: '' } }, PUBLISH_TIMEOUT_MS);
    if (action.disable) await step('setLogEnabled', { name: action.name, enabled: false });
    if (last) return last;
    const all = (await agentCall<{ logs: LogInfo[] }>(a.logs, 'listLogs', {})).logs;
    const found = all.find((l) => l.name === action.name);
    if (!found) throw new ControlError('CONTROL_ERR_NOT_FOUND', `instance ${instanceId} has no log named ${action.name}; logs: ${all.map((l) => l.name).join(', ')}`);
    return found;
  });
}

/** The last lines, then (follow) new ones until the caller goes away. */
export async function tailLog(
  c: ControlContext,
  caller: Caller,
  instanceId: string,
  req: { name: string; lines: number; follow: boolean },
  write: (lines: string[]) => void,
  signal: AbortSignal,
): Promise<void> {
  checkName(req.name);
  if (!Number.isInteger(req.lines) || req.lines < 0) throw invalid(`lines must be 0 or more, got ${req.lines}`);
  await onAgent(c, caller, instanceId, (a) => agentStream<{ lines: string[] }>(a.logs.tailLog({ name: req.name, lines: req.lines, follow: req.follow }), (m) => write(m.lines), signal));
}
