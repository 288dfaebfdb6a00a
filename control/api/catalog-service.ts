// coffer.control.v1.CatalogService: datastores, versions, flavors (shared by all projects).
import type * as grpc from '@grpc/grpc-js';
import { CatalogServiceService, type CatalogServiceServer } from '../../proto/gen/coffer/control/v1/catalog.js';
import type { ControlContext } from '../context.js';
import { notFound } from '../errors.js';
import type { FlavorRow } from '../store/catalog.js';
import { unary } from './handlers.js';

const flavor = (f: FlavorRow) => ({ id: f.id, name: f.name, vcpus: f.vcpus, ramMb: f.ram_mb });

export function addCatalogService(server: grpc.Server, c: ControlContext): void {
  const deps = { db: c.db, log: c.log };
  const impl: CatalogServiceServer = {
    listDatastores: unary(deps, 'ListDatastores', async () => ({
      datastores: c.catalog.datastores().map((d) => ({ name: d.name, defaultVersion: d.default_version, versions: d.versions })),
    })),
    listDatastoreVersions: unary(deps, 'ListDatastoreVersions', async (req) => {
      const versions = c.catalog.versions(req.datastore);
      if (!versions.length) throw notFound('datastore', req.datastore);
      return { versions: versions.map((v) => ({ datastore: v.datastore, name: v.name, manager: v.manager, active: v.active === 1 })) };
    }),
    listFlavors: unary(deps, 'ListFlavors', async () => ({ flavors: c.catalog.flavors().map(flavor) })),
    getFlavor: unary(deps, 'GetFlavor', async (req) => {
      const f = c.catalog.flavor(req.id);
      if (!f) throw notFound('flavor', req.id);
      return { flavor: flavor(f) };
    }),
  };
  server.addService(CatalogServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}
