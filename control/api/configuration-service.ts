// coffer.control.v1.ConfigurationService over the service layer (control/service/configurations.ts).
import type * as grpc from '@grpc/grpc-js';
import { ConfigurationServiceService, type Configuration, type ConfigurationServiceServer } from '../../proto/gen/coffer/control/v1/configurations.js';
import type { ControlContext } from '../context.js';
import { valuesOf, type ConfigurationRow } from '../store/configurations.js';
import * as svc from '../service/configurations.js';
import { decodePageToken, encodePageToken, pageSize, unary } from './handlers.js';

export function toConfiguration(c: ControlContext, g: ConfigurationRow): Configuration {
  const attached = c.instances.withConfiguration(g.id);
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    datastore: g.datastore,
    datastoreVersion: g.datastore_version,
    values: { ...valuesOf(g) },
    instanceCount: attached.length,
    instances: attached.map((r) => ({ id: r.id, name: r.name, state: r.config_state, message: r.config_message })),
    taskId: g.task_id ?? '',
    createdAtMs: g.created_at,
    updatedAtMs: g.updated_at,
  };
}

export function addConfigurationService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const view = (g: ConfigurationRow) => toConfiguration(c, g);
  const impl: ConfigurationServiceServer = {
    createConfiguration: unary(deps, 'CreateConfiguration', async (req, scope) => ({ configuration: view(svc.createConfiguration(c, scope, req)) })),
    listConfigurations: unary(deps, 'ListConfigurations', async (req, scope) => {
      const page = svc.listConfigurations(c, scope, { limit: pageSize(req.pageSize), marker: decodePageToken(req.pageToken) });
      return { configurations: page.items.map(view), nextPageToken: page.nextMarker ? encodePageToken(page.nextMarker) : '' };
    }),
    getConfiguration: unary(deps, 'GetConfiguration', async (req, scope) => ({ configuration: view(svc.findConfiguration(c, scope, req.id)) })),
    updateConfiguration: unary(deps, 'UpdateConfiguration', async (req, scope) => {
      const r = svc.updateConfiguration(c, scope, req.id, { values: req.values, replace: req.replace, name: req.name, description: req.description });
      return { configuration: view(r.configuration), taskId: r.taskId };
    }),
    deleteConfiguration: unary(deps, 'DeleteConfiguration', async (req, scope) => {
      svc.deleteConfiguration(c, scope, req.id);
      return {};
    }),
    attachConfiguration: unary(deps, 'AttachConfiguration', async (req, scope) => ({ taskId: svc.attachConfiguration(c, scope, req.instanceId, req.configurationId) })),
    detachConfiguration: unary(deps, 'DetachConfiguration', async (req, scope) => ({ taskId: svc.detachConfiguration(c, scope, req.instanceId) })),
    getInstanceConfiguration: unary(deps, 'GetInstanceConfiguration', async (req, scope) => svc.instanceConfiguration(c, scope, req.instanceId)),
    listParameters: unary(deps, 'ListParameters', async (req) => ({ parameters: svc.listParameters(c, req.datastore, req.datastoreVersion) })),
  };
  server.addService(ConfigurationServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
