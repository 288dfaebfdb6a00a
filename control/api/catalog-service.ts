// coffer.control.v1.CatalogService: datastores, versions, flavors (shared by
// all projects), over the service layer (control/service/catalog.ts).
import type * as grpc from '@grpc/grpc-js';
import { CatalogServiceService, type CatalogServiceServer } from '../../proto/gen/coffer/control/v1/catalog.js';
import type { ControlContext } from '../context.js';
import * as svc from '../service/catalog.js';
import type { FlavorRow } from '../store/catalog.js';
import { unary } from './handlers.js';

const flavor = (f: FlavorRow) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ramMb: f.ram_mb });

export function addCatalogService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: CatalogServiceServer = {
    listDatastores: unary(deps, 'ListDatastores', async () => ({
      datastores: svc.listDatastores(c).map((d) => ({ name: d.name, defaultVersion: d.defaultVersion, versions: d.versions.map((v) => v.name) })),
    })),
    listDatastoreVersions: unary(deps, 'ListDatastoreVersions', async (req) => ({
      versions: svc.listDatastoreVersions(c, req.datastore).map((v) => ({ datastore: v.datastore, name: v.name, manager: v.manager, active: v.active === 1 })),
    })),
    listFlavors: unary(deps, 'ListFlavors', async () => ({ flavors: svc.listFlavors(c).map(flavor) })),
    getFlavor: unary(deps, 'GetFlavor', async (req) => ({ flavor: flavor(svc.getFlavor(c, req.id)) })),
  };
  server.addService(CatalogServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
