// Create, use and delete a MariaDB through the real control: a real
// coffer-control process, the local driver starting a real agent over mutual
// TLS, and a real mariadbd reached with the mariadb client.
import t from 'tap';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { collect, waitFor } from '../support/agent.js';
import { mariadb } from '../support/mariadb-client.js';
import { agentPids, ccall, cstream, startControl } from '../support/control.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type WatchInstanceResponse } from '../../proto/gen/coffer/control/v1/instances.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { ListDatastoresResponse } from '../../proto/gen/coffer/control/v1/catalog.js';

t.test('an instance is created ACTIVE, reachable, watched, and deleted', async (t) => {
  const control = await startControl(t);
  const token = control.token('shop');
  const { instances, catalog } = control.clients;

  for (const key of ['control-ca.key', 'instances-ca.key', 'control.key']) {
    t.equal(statSync(path.join(control.dataDir, 'ca', key)).mode & 0o777, 0o600, `the CA created ${key} with mode 0600 at first start`);
  }
  const ds = await ccall<ListDatastoresResponse>(catalog, 'listDatastores', {}, token);
  t.same(ds.datastores.map((d) => d.name).sort(), ['mariadb', 'mysql', 'postgresql', 'redis'], 'the default datastores are registered');

  const created = await ccall<CreateInstanceResponse>(instances, 'createInstance', CreateInstanceRequest.fromPartial({
    name: 'orders',
    datastore: 'mariadb',
    databases: [{ name: 'orders' }],
    users: [{ name: 'app', host: '%', password: 'App-pass-1', databases: ['orders'] }],
  }), token);
  const id = created.instance!.id;
  t.equal(created.instance!.status, InstanceStatus.INSTANCE_STATUS_BUILD, 'a new instance is BUILD');
  t.ok(created.taskId, 'a create task was started');

  const events = await collect<WatchInstanceResponse>(cstream(instances, 'watchInstance', { id }, token));
  const phases = events.filter((e) => e.progress).map((e) => e.progress!.phase);
  t.ok(phases.includes('init-datadir') && phases.includes('start'), 'the agent\'s Prepare phases are relayed');
  const last = events.filter((e) => e.instance).at(-1)!.instance!;
  t.equal(last.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the watch ends with the instance ACTIVE');
  t.ok(last.port > 0, 'it has a datastore port');

  const q = await mariadb(last.port, 'app', 'App-pass-1', 'SHOW DATABASES');
  t.equal(q.code, 0, q.stderr);
  t.ok(q.stdout.split('\n').includes('orders'), 'the user reaches its database with the mariadb client');

  const seen = await waitFor('a heartbeat', async () => {
    const g = await ccall<GetInstanceResponse>(instances, 'getInstance', { id }, token);
    return g.instance!.agentReachable && g.instance!.datastoreState === DatastoreState.DATASTORE_STATE_ACTIVE ? g.instance : false;
  }, 20_000);
  t.ok(seen!.agentLastSeenMs > 0, 'the conductor heard the agent: reachable, datastore ACTIVE');

  const instanceDir = path.join(control.dataDir, 'instances', id);
  t.equal(statSync(path.join(instanceDir, 'tls', 'instance.key')).mode & 0o777, 0o600, 'the injected instance key is 0600');
  t.equal(agentPids(control.dataDir).length, 1, 'one agent runs');
  const argv = readFileSync(`/proc/${agentPids(control.dataDir)[0]}/cmdline`, 'utf8').split('\0');
  for (const f of AGENT_NODE_FLAGS) t.ok(argv.includes(f), `the local driver started the agent with ${f}`);
  await ccall(instances, 'deleteInstance', { id }, token);
  await waitFor('the instance to go', async () => {
    try {
      await ccall(instances, 'getInstance', { id }, token);
      return false;
    } catch (err) {
      return (err as { code: number }).code === Status.NOT_FOUND;
    }
  }, 90_000);
  t.equal(agentPids(control.dataDir).length, 0, 'delete stopped the agent');
  t.notOk(existsSync(instanceDir), 'delete removed the instance directory');
  const gone = await mariadb(last.port, 'app', 'App-pass-1', 'SELECT 1');
  t.not(gone.code, 0, 'the datastore is stopped');
});
