import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import { ConfigurationServiceService, type ConfigurationServiceServer } from '../../proto/gen/coffer/agent/v1/configuration.js';
import type { Agent } from '../agent.js';
import { invalid, unimplemented } from '../errors.js';
import type { ConfigurationCapability } from '../managers/manager.js';
import { unary } from './handlers.js';

export function addConfigurationService(server: grpc.Server, agent: Agent, log: Logger): void {
  const capability = (): ConfigurationCapability => {
    const c = agent.manager.configuration;
    if (!c) throw unimplemented('configuration', agent.manager.name);
    return c;
  };
  const impl: ConfigurationServiceServer = {
    getConfiguration: unary(log, 'GetConfiguration', async () => {
      const c = capability();
      agent.requireRunning('read the configuration');
      return { values: await c.current(), overrides: c.overrides() };
    }),
    updateOverrides: unary(log, 'UpdateOverrides', async (req) => {
      const c = capability();
      if (Object.keys(req.overrides).length === 0 && !req.replace) throw invalid('no overrides given');
      agent.requireRunning('update the configuration');
      const r = await c.update(req.overrides, req.replace);
      if (r.restartRequired) agent.markRestartRequired(r.changes.filter((x) => x.restartRequired).map((x) => x.name));
      return r;
    }),
    resetConfiguration: unary(log, 'ResetConfiguration', async () => {
      const c = capability();
      agent.requireRunning('reset the configuration');
      const r = await c.reset();
      if (r.restartRequired) agent.markRestartRequired(r.changes.filter((x) => x.restartRequired).map((x) => x.name));
      return r;
    }),
    listParameters: unary(log, 'ListParameters', async () => ({
      datastore: agent.manager.name,
      datastoreVersion: agent.manager.version,
      parameters: capability().parameters(),
    })),
  };
  server.addService(ConfigurationServiceService, impl);
}
