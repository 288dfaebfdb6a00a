// Datastores, versions and flavors: shared by all projects.
import type { ControlContext } from '../context.js';
import { notFound } from '../errors.js';
import type { FlavorRow, VersionRow } from '../store/catalog.js';

export interface DatastoreView {
  name: string;
  defaultVersion: string;
  versions: VersionRow[];
}

export function listDatastores(c: ControlContext): DatastoreView[] {
  return c.catalog.datastores().map((d) => ({ name: d.name, defaultVersion: d.default_version, versions: c.catalog.versions(d.name) }));
}

export function getDatastore(c: ControlContext, name: string): DatastoreView {
  const d = listDatastores(c).find((x) => x.name === name);
  if (!d) throw notFound('datastore', name);
  return d;
}

export function listDatastoreVersions(c: ControlContext, datastore: string): VersionRow[] {
  const versions = c.catalog.versions(datastore);
  if (!versions.length) throw notFound('datastore', datastore);
  return versions;
}

export const listFlavors = (c: ControlContext): FlavorRow[] => c.catalog.flavors();

export function getFlavor(c: ControlContext, id: string): FlavorRow {
  const f = id ? c.catalog.flavor(id) : undefined;
  if (!f) throw notFound('flavor', id);
  return f;
}
