// Commands take an instance by id or by name: operators remember names, and
// `make up` finds its instance again by name. A name must be unique in the
// token's project.
import type { Instance, ListInstancesResponse, GetInstanceResponse } from '../proto/gen/coffer/control/v1/instances.js';
import type { Cluster, GetClusterResponse, ListClustersResponse } from '../proto/gen/coffer/control/v1/clusters.js';
import type { Connection } from './connection.js';
import { CliError, EXIT, usage } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every instance of the token's project, following pages. */
export async function allInstances(conn: Connection): Promise<Instance[]> {
  const out: Instance[] = [];
  let pageToken = '';
  do {
    const r = await conn.unary<ListInstancesResponse>((md, o, cb) => conn.instances.listInstances({ pageSize: 1000, pageToken }, md, o, cb));
    out.push(...r.instances);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

/** The instance named or identified by `ref`. */
export async function findInstance(conn: Connection, ref: string): Promise<Instance> {
  if (!ref.trim()) throw usage('an instance id or name is required');
  if (UUID.test(ref)) {
    const r = await conn.unary<GetInstanceResponse>((md, o, cb) => conn.instances.getInstance({ id: ref }, md, o, cb));
    return r.instance!;
  }
  const named = (await allInstances(conn)).filter((i) => i.name === ref);
  if (named.length === 0) throw new CliError(`no instance is named "${ref}" in the token's project; see \`coffer instance list\``, EXIT.NOT_FOUND);
  if (named.length > 1) {
    throw new CliError(`${named.length} instances are named "${ref}": use one of their ids (${named.map((i) => i.id).join(', ')})`, EXIT.USAGE);
  }
  return named[0]!;
}

/** Just the id, for calls that take one. */
export async function instanceId(conn: Connection, ref: string): Promise<string> {
  return UUID.test(ref) ? ref : (await findInstance(conn, ref)).id;
}

/** Every cluster of the token's project, following pages. */
export async function allClusters(conn: Connection): Promise<Cluster[]> {
  const out: Cluster[] = [];
  let pageToken = '';
  do {
    const r = await conn.unary<ListClustersResponse>((md, o, cb) => conn.clusters.listClusters({ pageSize: 1000, pageToken }, md, o, cb));
    out.push(...r.clusters);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}

/** The cluster named or identified by `ref`. */
export async function findCluster(conn: Connection, ref: string): Promise<Cluster> {
  if (!ref.trim()) throw usage('a cluster id or name is required');
  // Cluster ids are 32 hex digits (Galera's group name holds at most 32 characters).
  if (UUID.test(ref) || /^[0-9a-f]{32}$/i.test(ref)) {
    const r = await conn.unary<GetClusterResponse>((md, o, cb) => conn.clusters.getCluster({ id: ref }, md, o, cb));
    return r.cluster!;
  }
  const named = (await allClusters(conn)).filter((c) => c.name === ref);
  if (named.length === 0) throw new CliError(`no cluster is named "${ref}" in the token's project; see \`coffer cluster list\``, EXIT.NOT_FOUND);
  if (named.length > 1) throw new CliError(`${named.length} clusters are named "${ref}": use one of their ids (${named.map((c) => c.id).join(', ')})`, EXIT.USAGE);
  return named[0]!;
}
