// The ArchiveService's gRPC glue (proto/coffer/agent/v1/archive.proto) over
// the archiving core (agent/archive/). A datastore that cannot archive
// answers UNIMPLEMENTED naming the capability.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import { ArchiveServiceService, type ArchiveServiceServer, type RestorableWindow } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { Archiving } from '../archive/archiving.js';
import type { Window } from '../archive/planner.js';
import { unary, unimplementedService } from './handlers.js';

export const windowToProto = (w: Window): RestorableWindow => ({ ...w });

export function addArchiveService(server: grpc.Server, archiving: Archiving | undefined, datastore: string, log: Logger): void {
  if (!archiving) {
    server.addService(ArchiveServiceService, unimplementedService(ArchiveServiceService, 'archive', datastore));
    return;
  }
  const { archiver } = archiving;
  const impl: ArchiveServiceServer = {
    configureArchiving: unary(log, 'ConfigureArchiving', async (req) => ({ status: await archiver.configure(req.enabled, req.settings) })),
    getArchiveStatus: unary(log, 'GetArchiveStatus', async () => ({ status: await archiver.status() })),
    getRestorableWindow: unary(log, 'GetRestorableWindow', async (req) => {
      const from = req.backupEndPosition ? { position: req.backupEndPosition, timeMs: req.backupEndTimeMs } : undefined;
      return { window: windowToProto(await archiver.window(req.archive, from)) };
    }),
    pruneArchive: unary(log, 'PruneArchive', async (req) => {
      const r = await archiver.prune(req.beforeTimeMs, req.beforePosition);
      return { deleted: r.deleted, remaining: windowToProto(r.remaining) };
    }),
  };
  server.addService(ArchiveServiceService, impl);
}
