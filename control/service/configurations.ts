// Configuration groups (docs/configuration-groups.md): create, list, show,
// change, delete, attach to and detach from instances, and the parameters a
// group may set. Values are checked against the rule tables the agents
// enforce (strategies/configuration), so a group never holds a value an
// agent would refuse. Transport-agnostic: the gRPC ConfigurationService
// and the REST bridge both call these.
import { randomUUID } from 'node:crypto';
import { normalizeOverrides, toParameters, type RuleSet } from '../../strategies/configuration/rules.js';
import { ParameterError } from '../../strategies/configuration/parameter-error.js';
import { ruleTable } from '../../strategies/configuration/tables.js';
import type { Parameter } from '../../proto/gen/coffer/agent/v1/configuration.js';
import type { GetConfigurationResponse } from '../../proto/gen/coffer/agent/v1/configuration.js';
import { agentCall } from '../agent-client.js';
import { withAgent, type ControlContext } from '../context.js';
import { conflict, ControlError, invalid, notFound } from '../errors.js';
import { valuesOf, type ConfigurationRow } from '../store/configurations.js';
import type { InstanceRow } from '../store/instances.js';
import type { ApplyData } from '../workflows/configuration-apply.js';
import { pageOf, type Caller, type Page, type PageRequest } from './caller.js';
import { findInstance } from './instances.js';

const MAX_NAME = 255;
const MAX_DESCRIPTION = 1024;
/** More than any table names: a body cannot make the control normalise millions of keys. */
const MAX_VALUES = 256;

export interface ConfigurationInput {
  name: string;
  description?: string;
  /** Empty: mariadb. */
  datastore?: string;
  /** Empty: the datastore's default version. */
  datastoreVersion?: string;
  values: Record<string, string>;
}

/** The table of a datastore version as the catalog records it. */
export function rulesOf(c: ControlContext, datastore: string, version: string): RuleSet {
  const ds = datastore || 'mariadb';
  const name = version || c.catalog.defaultVersion(ds);
  if (!name) throw invalid(`datastore "${ds}" is not known; see ListDatastores`);
  const v = c.catalog.version(ds, name);
  if (!v) throw invalid(`datastore version ${ds} ${name} is not known; see ListDatastoreVersions`);
  const rules = ruleTable(v.manager, v.manager_version);
  if (!rules) throw new ControlError('CONTROL_ERR_UNAVAILABLE', `${ds} ${name} has no configuration parameters in this release`);
  return rules;
}

/** The values normalised by the table; a bad one is CONTROL_ERR_INVALID_PARAMETER (422) naming it, and nothing is kept. */
export function checkValues(rules: RuleSet, values: Readonly<Record<string, string>>): Record<string, string> {
  if (Object.keys(values).length > MAX_VALUES) throw invalid(`values: at most ${MAX_VALUES} parameters in one group`);
  try {
    return normalizeOverrides(rules, values);
  } catch (err) {
    if (err instanceof ParameterError) throw new ControlError('CONTROL_ERR_INVALID_PARAMETER', err.message);
    throw err;
  }
}

function checkText(what: string, v: string, max: number, required: boolean): string {
  const s = v.trim();
  if ((required && !s) || s.length > max) throw invalid(`${what} is ${required ? 'required' : 'optional'} (${required ? 1 : 0}-${max} characters)`);
  if (/[\x00-\x1f\x7f]/.test(s)) throw invalid(`${what} must not contain control characters`);
  return s;
}

export function findConfiguration(c: ControlContext, caller: Caller, id: string): ConfigurationRow {
  const r = id ? c.configurations.get(id, caller) : undefined;
  if (!r) throw notFound('configuration', id);
  return r;
}

export function createConfiguration(c: ControlContext, caller: Caller, req: ConfigurationInput): ConfigurationRow {
  const name = checkText('name', req.name ?? '', MAX_NAME, true);
  const description = checkText('description', req.description ?? '', MAX_DESCRIPTION, false);
  const datastore = req.datastore || 'mariadb';
  const version = req.datastoreVersion || c.catalog.defaultVersion(datastore) || '';
  const values = checkValues(rulesOf(c, datastore, version), req.values);
  const id = randomUUID();
  c.configurations.insert({ id, project: caller.project, name, description, datastore, datastore_version: version, values });
  return c.configurations.get(id)!;
}

export function listConfigurations(c: ControlContext, caller: Caller, page: PageRequest): Page<ConfigurationRow> {
  return pageOf(c.configurations.list(caller, page.limit + 1, page.marker), page.limit);
}

/** The instances a group is attached to (a page). */
export function configurationInstances(c: ControlContext, caller: Caller, id: string, page: PageRequest): Page<InstanceRow> {
  const g = findConfiguration(c, caller, id);
  return pageOf(c.instances.withConfiguration(g.id, page.limit + 1, page.marker), page.limit);
}

export interface ConfigurationChange {
  values: Record<string, string>;
  /** true: the values replace the group's (Trove's PUT); false: merged into them (PATCH). */
  replace: boolean;
  name?: string;
  description?: string;
}

/** Changes a group and re-applies it to its instances; the task is '' when none is attached. */
export function updateConfiguration(c: ControlContext, caller: Caller, id: string, change: ConfigurationChange): { configuration: ConfigurationRow; taskId: string } {
  const g = findConfiguration(c, caller, id);
  const name = change.name === undefined ? undefined : checkText('name', change.name, MAX_NAME, true);
  const description = change.description === undefined ? undefined : checkText('description', change.description, MAX_DESCRIPTION, false);
  const set = checkValues(rulesOf(c, g.datastore, g.datastore_version), change.values);
  const values = change.replace ? set : { ...valuesOf(g), ...set };
  let taskId = '';
  c.db.transaction(() => {
    c.configurations.update(g.id, { name, description, values });
    const attached = c.instances.withConfiguration(g.id);
    if (attached.length) taskId = submitApply(c, g.project, g.id, attached);
  })();
  return { configuration: c.configurations.get(g.id)!, taskId };
}

export function deleteConfiguration(c: ControlContext, caller: Caller, id: string): void {
  const g = findConfiguration(c, caller, id);
  const attached = c.instances.withConfiguration(g.id);
  if (attached.length) {
    const clusters = [...new Set(attached.flatMap((i) => (i.cluster_id ? [i.cluster_id] : [])))];
    if (clusters.length) throw conflict(`configuration ${g.name} (${g.id}) is the group of cluster${clusters.length > 1 ? 's' : ''} ${clusters.join(', ')}: delete the cluster${clusters.length > 1 ? 's' : ''} first`);
    throw conflict(`configuration ${g.name} (${g.id}) is attached to ${attached.length} instance${attached.length > 1 ? 's' : ''} (${attached.map((i) => i.name).join(', ')}): detach it first`);
  }
  c.configurations.delete(g.id);
}

/** The group a new instance is created with, checked against its datastore version. */
export function configurationForCreate(c: ControlContext, caller: Caller, id: string, datastore: string, version: string): ConfigurationRow {
  const g = findConfiguration(c, caller, id);
  if (g.datastore !== datastore || g.datastore_version !== version) {
    throw invalid(`configuration ${g.name} (${g.id}) is for ${g.datastore} ${g.datastore_version}, not ${datastore} ${version}`);
  }
  return g;
}

/**
 * A cluster's members carry the cluster's group, given at cluster create
 * (troveclient 8.0.0 sends no cluster attach or detach): a member alone is
 * refused (400 naming the cluster), as its delete and resize are.
 */
function notMember(r: InstanceRow, what: string): InstanceRow {
  if (r.cluster_id) throw invalid(`instance ${r.name} (${r.id}) is a member of cluster ${r.cluster_id}: a configuration is not ${what} one member; a cluster's group is given at cluster create`);
  return r;
}

export function attachConfiguration(c: ControlContext, caller: Caller, instanceId: string, configurationId: string): string {
  const r = notMember(findInstance(c, caller, instanceId), 'attached to');
  const g = findConfiguration(c, caller, configurationId);
  if (g.project !== r.project) throw notFound('configuration', configurationId);
  if (r.datastore !== g.datastore || r.datastore_version !== g.datastore_version) {
    throw invalid(`configuration ${g.name} (${g.id}) is for ${g.datastore} ${g.datastore_version}; instance ${r.name} runs ${r.datastore} ${r.datastore_version}`);
  }
  if (r.configuration_id && r.configuration_id !== g.id) {
    throw conflict(`instance ${r.name} (${r.id}) has configuration ${r.configuration_id} attached: detach it first`);
  }
  if (r.status !== 'ACTIVE') throw conflict(`instance ${r.name} (${r.id}) is ${r.status}; a configuration is attached to an ACTIVE instance`);
  let taskId = '';
  c.db.transaction(() => {
    c.instances.update(r.id, { configuration_id: g.id });
    taskId = submitApply(c, r.project, g.id, [r]);
  })();
  return taskId;
}

/** Takes the group's values off the instance; '' when none was attached. */
export function detachConfiguration(c: ControlContext, caller: Caller, instanceId: string): string {
  const r = notMember(findInstance(c, caller, instanceId), 'detached from');
  if (!r.configuration_id) return '';
  const groupId = r.configuration_id;
  let taskId = '';
  c.db.transaction(() => {
    c.instances.update(r.id, { configuration_id: null });
    taskId = submitApply(c, r.project, groupId, [r]);
  })();
  return taskId;
}

/** Records the apply task and marks its instances applying (in the caller's transaction). */
function submitApply(c: ControlContext, project: string, configurationId: string, rows: readonly InstanceRow[]): string {
  const data: ApplyData = { configurationId, instanceIds: rows.map((r) => r.id), outcomes: {} };
  return c.engine.submit('configuration-apply', project, configurationId, data, (taskId) => {
    for (const r of rows) c.instances.update(r.id, { config_state: 'applying', config_message: '' });
    if (c.configurations.get(configurationId)) c.configurations.update(configurationId, { task_id: taskId });
  });
}

/** What the instance's datastore runs with now, for every parameter a group may set. */
export async function instanceConfiguration(c: ControlContext, caller: Caller, instanceId: string): Promise<{ values: Record<string, string>; configurationId: string }> {
  const r = findInstance(c, caller, instanceId);
  if (!r.compute) throw conflict(`instance ${r.name} (${r.id}) is ${r.status}; it has no datastore running yet`);
  const res = await withAgent(c, r, (a) => agentCall<GetConfigurationResponse>(a.configuration, 'getConfiguration', {}));
  return { values: res.values, configurationId: r.configuration_id ?? '' };
}

export function listParameters(c: ControlContext, datastore: string, version: string): Parameter[] {
  return toParameters(rulesOf(c, datastore, version));
}
