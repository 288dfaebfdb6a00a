// coffer.control.v1.ArchivingService over control/service/archiving.ts.
import type * as grpc from '@grpc/grpc-js';
import { ArchivingServiceService, type ArchivingServiceServer } from '../../proto/gen/coffer/control/v1/archiving.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/archiving.js';
import { managerOf } from '../workflows/replication/datastores.js';
import { toInstance } from './convert.js';
import { unary } from './handlers.js';

export function addArchivingService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: ArchivingServiceServer = {
    configureArchiving: unary(deps, 'ConfigureArchiving', async (req, scope) => {
      const r = await svc.configureArchiving(c, scope, req);
      const view = await svc.archiveView(c, r.row, managerOf(c, r.row));
      return {
        instance: {
          ...toInstance(r.row, c.instances, c.config.heartbeatExpiryMs),
          archiving: r.status,
          restorableWindow: view.window,
          archiveRetentionDays: r.status?.retentionDays ?? 0,
        },
      };
    }),
  };
  server.addService(ArchivingServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
