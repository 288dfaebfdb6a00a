// A prepared Redis instance for the tests of one feature.
import { call, collect, startAgent, type AgentProcess } from '../../support/agent.js';
import type { GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

export const PREPARE = {
  datastoreVersion: '7.0',
  rootPassword: '',
  databases: [],
  users: [],
  overrides: {},
  restore: undefined,
};

export async function preparedRedis(t: { teardown(fn: () => unknown): void }, patch: Partial<typeof PREPARE> = {}): Promise<AgentProcess> {
  const agent = await startAgent(t, { datastore: 'redis' });
  await collect(agent.clients.lifecycle.prepare({ ...PREPARE, ...patch }));
  return agent;
}

export const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});

/** A unary call on the account service. */
export const accounts = <Res = unknown>(a: AgentProcess, method: string, req: object) => call<object, Res>(a.clients.accounts, method, req);
export const configuration = <Res = unknown>(a: AgentProcess, method: string, req: object) => call<object, Res>(a.clients.configuration, method, req);

export const user = (name: string, password: string, rules: string[] = []) => ({ name, host: '', password, databases: [], rules });
