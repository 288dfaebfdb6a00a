// /metrics of a real agent and a real control, scraped as Prometheus does,
// moving with what happened: a backup through the agent moves the backup
// counters, a datastore killed with kill -9 moves the restarts counter, a
// REST or gRPC call moves the request counts of its route and code, an
// instance created moves instances-by-status, its task the task histograms
// and its agent's heartbeats the heartbeat age. An agent with metrics off
// (the control's own instance's) serves no port for them; a bad address is
// refused naming the setting. One control and one Redis agent for the file
// (Redis: the datastore does not matter here and starts fastest).
import t from 'tap';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { AGENT_BIN, agentEnv, collect, datastorePid, startAgent, tempBase, waitFor } from '../support/agent.js';
import { agentPids, ccall, CONTROL_BIN, startControl } from '../support/control.js';
import { scrape } from '../support/metrics.js';
import { restClient } from '../support/openstack/rest.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { BackupType, type CreateBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';
import { ListInstancesRequest } from '../../proto/gen/coffer/control/v1/instances.js';

t.setTimeout(300_000);
const run = promisify(execFile);

const [control, agent] = await Promise.all([
  startControl(t),
  startAgent(t, { datastore: 'redis', extraArgs: ['--metrics-listen', '127.0.0.1:0'] }),
]);
const agentMetricsPort = (() => {
  for (const line of agent.logs) {
    if (line.includes('"msg":"listening"')) return (JSON.parse(line) as { metricsPort?: number }).metricsPort ?? 0;
  }
  return 0;
})();
const controlMetricsPort = control.current!.metricsPort!;
const token = control.token('shop');
const rest = restClient(control.restPort);
const REDIS = { strategy: 'redis-rdb-acl', type: 'full' };

t.test('each says in its listening log line where /metrics is served', async (t) => {
  t.ok(agentMetricsPort > 0, 'the agent reports the port it bound for metricsListen 127.0.0.1:0');
  await waitFor('the agent\'s listening log line', async () => agent.logs.some((l) => l.includes(`"metrics":"http://127.0.0.1:${agentMetricsPort}/metrics"`)), 30_000);
  t.pass('the agent\'s "coffer-agent listening" line names http://127.0.0.1:PORT/metrics');
  t.ok(controlMetricsPort > 0, 'the control reports the port it bound for --metrics 127.0.0.1:0');
  await waitFor('the control\'s listening log line', async () => control.current!.logs.some((l) => l.includes(`"metrics":"http://127.0.0.1:${controlMetricsPort}/metrics"`)), 30_000);
  t.pass('the control\'s "coffer-control listening" line names it too');

  const s = await scrape(agentMetricsPort);
  t.equal(s.status, 200, 'GET /metrics: 200');
  t.match(s.contentType, /^text\/plain; version=0\.0\.4/, 'Prometheus text format');
  const other = await fetch(`http://127.0.0.1:${agentMetricsPort}/`);
  t.equal(other.status, 404, 'only /metrics is served there');
  await other.text();
});

t.test('agent: state, connections, volume and process metrics follow the datastore', async (t) => {
  let s = await scrape(agentMetricsPort);
  t.equal(s.value('coffer_agent_datastore_up'), 0, 'not prepared: the datastore is not up');
  t.equal(s.value('coffer_agent_datastore_state', { state: 'NEW' }), 1, 'state NEW');
  t.equal(s.value('coffer_agent_info', { instance_id: 'standalone', datastore: 'redis' }), 1, 'the info series names the instance and datastore');

  await collect(agent.clients.lifecycle.prepare({ datastoreVersion: '7.0', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined }));
  s = await scrape(agentMetricsPort);
  t.equal(s.value('coffer_agent_datastore_up'), 1, 'prepared: up');
  t.equal(s.value('coffer_agent_datastore_state', { state: 'ACTIVE' }), 1, 'state ACTIVE');
  t.equal(s.value('coffer_agent_datastore_state', { state: 'NEW' }), 0, 'and no longer NEW');
  t.ok(s.value('coffer_agent_datastore_connections')! >= 1, `connections counted by the datastore (${s.value('coffer_agent_datastore_connections')}, the agent's own at least)`);
  const size = s.value('coffer_agent_volume_size_bytes')!;
  const used = s.value('coffer_agent_volume_used_bytes')!;
  const free = s.value('coffer_agent_volume_free_bytes')!;
  t.ok(size > 0 && used > 0 && free > 0 && used + free <= size, `volume: ${used} used and ${free} free of ${size} bytes`);
  t.ok(s.value('process_resident_memory_bytes')! > 0, 'process metrics (prom-client\'s defaults)');
  t.equal(s.value('coffer_agent_replication_role', { role: 'standalone' }), 1, 'replication role: standalone');
  t.equal(s.all('coffer_agent_replication_lag_seconds').length, 0, 'no lag series on an instance that replicates from nobody');
});

t.test('agent: a backup moves the backup counters; a refused one counts as a failure', async (t) => {
  const before = await scrape(agentMetricsPort);
  t.equal(before.value('coffer_agent_backups_total', { ...REDIS, result: 'success' }), undefined, 'no backup yet');
  const events = await collect<CreateBackupResponse>(agent.clients.backup.createBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy: '', parent: undefined, storage: undefined, compression: '' }));
  const stored = events.at(-1)!.artifact!.metadata!.storedBytes;
  const after = await scrape(agentMetricsPort);
  t.equal(after.value('coffer_agent_backups_total', { ...REDIS, result: 'success' }), 1, 'one successful full redis-rdb-acl backup');
  t.equal(after.value('coffer_agent_backup_bytes_total', REDIS), stored, `its ${stored} stored bytes`);
  t.equal(after.value('coffer_agent_backup_duration_seconds_count', { ...REDIS, result: 'success' }), 1, 'its duration observed once');
  t.ok(after.value('coffer_agent_backup_duration_seconds_sum', { ...REDIS, result: 'success' })! > 0, 'for a positive time');
  t.ok(after.value('coffer_agent_backup_last_success_timestamp_seconds')! * 1000 > Date.now() - 300_000, 'the last success is now');

  const refused = await collect(agent.clients.backup.createBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy: 'no-such-tool', parent: undefined, storage: undefined, compression: '' })).then(
    () => null,
    (e: ServiceError) => e,
  );
  t.equal(refused?.code, Status.INVALID_ARGUMENT, 'an unknown strategy is refused');
  const failed = await scrape(agentMetricsPort);
  t.equal(failed.value('coffer_agent_backups_total', { strategy: 'unknown', type: 'full', result: 'failure' }), 1, 'counted as a failure, under strategy "unknown" (never the caller\'s text)');
  t.equal(failed.value('coffer_agent_backups_total', { ...REDIS, result: 'success' }), 1, 'the success count is unchanged');
});

t.test('agent: a datastore killed with kill -9 moves the restarts counter', async (t) => {
  t.equal((await scrape(agentMetricsPort)).value('coffer_agent_datastore_restarts_total'), 0, 'no restart yet');
  const pid = datastorePid(agent.baseDir);
  t.ok(pid > 0, 'the datastore runs');
  process.kill(pid, 'SIGKILL');
  const s = await waitFor('the restarted datastore in the metrics', async () => {
    const m = await scrape(agentMetricsPort);
    return m.value('coffer_agent_datastore_restarts_total') === 1 && m.value('coffer_agent_datastore_up') === 1 ? m : null;
  }, 90_000);
  t.equal(s.value('coffer_agent_datastore_state', { state: 'ACTIVE' }), 1, 'restarted once, up and ACTIVE again');
  t.not(datastorePid(agent.baseDir), pid, 'by a new process');
});

t.test('control: REST and gRPC calls move the request counts of their route and code', async (t) => {
  const route = { method: 'GET', route: '/v1.0/:project_id/instances', code: '200' };
  const count = async (labels: Record<string, string>, name = 'coffer_control_rest_request_duration_seconds_count') => (await scrape(controlMetricsPort)).value(name, labels) ?? 0;
  const before = await count(route);
  t.equal((await rest('GET', '/v1.0/shop/instances', { token })).status, 200, 'a REST list: 200');
  t.equal(await count(route), before + 1, 'GET /v1.0/:project_id/instances 200 counted once');
  t.equal((await rest('GET', '/v1.0/shop/instances')).status, 401, 'without a token: 401');
  t.equal(await count({ ...route, code: '401' }), 1, 'without a token: counted under 401');
  t.equal((await rest('GET', '/no/such/path/123')).status, 404, 'an unknown path: 404');
  t.equal(await count({ method: 'GET', route: 'unmatched', code: '404' }), 1, 'an unknown path is counted as "unmatched", never by its URL');

  const grpc = { service: 'coffer.control.v1.InstanceService', method: 'ListInstances' };
  const gname = 'coffer_control_grpc_request_duration_seconds_count';
  await ccall(control.clients.instances, 'listInstances', ListInstancesRequest.fromPartial({}), token);
  t.equal(await count({ ...grpc, code: 'OK' }, gname), 1, 'a gRPC ListInstances counted with code OK');
  const err = await ccall(control.clients.instances, 'listInstances', ListInstancesRequest.fromPartial({}), '').catch((e: ServiceError) => e);
  t.equal((err as ServiceError).code, Status.UNAUTHENTICATED, 'a gRPC call without a token: UNAUTHENTICATED');
  t.equal(await count({ ...grpc, code: 'UNAUTHENTICATED' }, gname), 1, 'and one without a token with code UNAUTHENTICATED');
});

t.test('control: instances by status, the create task and heartbeat age follow an instance created', async (t) => {
  const before = await scrape(controlMetricsPort);
  t.equal(before.all('coffer_control_instances', { datastore: 'redis' }).length, 0, 'no redis instance yet');
  const created = await rest('POST', '/v1.0/shop/instances', {
    token,
    body: { instance: { name: 'cache', flavorRef: 'small', volume: { size: 1 }, datastore: { type: 'redis', version: '7.0' } } },
  });
  t.equal(created.status, 200, `POST /instances: 200 ${created.status === 200 ? '' : created.text}`);
  const id = created.body.instance.id as string;
  const building = await scrape(controlMetricsPort);
  t.equal(building.value('coffer_control_instances', { status: 'BUILD', datastore: 'redis' }), 1, 'one redis instance in BUILD');
  t.equal(building.value('coffer_control_tasks_running', { workflow: 'create' }), 1, 'its create task runs');
  t.equal(building.value('coffer_control_rest_request_duration_seconds_count', { method: 'POST', route: '/v1.0/:project_id/instances', code: '200' }), 1, 'the POST was counted');

  const active = await waitFor('the instance ACTIVE in the metrics', async () => {
    const s = await scrape(controlMetricsPort);
    return s.value('coffer_control_instances', { status: 'ACTIVE', datastore: 'redis' }) === 1 ? s : null;
  }, 120_000);
  t.equal(active.value('coffer_control_instances', { status: 'BUILD', datastore: 'redis' }), undefined, 'none left in BUILD');
  t.equal(active.value('coffer_control_task_duration_seconds_count', { workflow: 'create', result: 'succeeded' }), 1, 'the create task ended, succeeded, once');
  t.equal(active.all('coffer_control_task_failures_total').length, 0, 'no task failed');
  const steps = active.all('coffer_control_task_step_duration_seconds_count', { workflow: 'create', result: 'success' });
  t.ok(steps.length >= 3, `its steps are timed one by one (${steps.map((s) => s.labels.step).join(', ')})`);
  t.equal(active.all('coffer_control_tasks_running', { workflow: 'create' }).length, 0, 'no create task runs any more');

  const age = await waitFor('a heartbeat age for the instance', async () => (await scrape(controlMetricsPort)).value('coffer_control_instance_heartbeat_age_seconds', { instance_id: id }), 60_000);
  t.ok(age >= 0 && age < 30, `its agent was heard ${age} s ago (heartbeats every second)`);

  // The instance's agent runs with metrics off, as every agent does by
  // default: it listens on its gRPC port and nothing else. The agent with
  // metricsListen, by the same reading, on two.
  const [pid] = agentPids(control.dataDir);
  t.same(listeningPorts(pid!).length, 1, 'the control\'s agent (metrics off) listens on one port: its gRPC');
  t.same(listeningPorts(agent.proc.pid!).sort(), [agent.port, agentMetricsPort].sort(), 'the agent with metricsListen on its gRPC port and its metrics port');
});

t.test('bad addresses are refused naming the setting', async (t) => {
  const root = tempBase('coffer-metrics-');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const base = path.join(root, 'base');
  const agentArgs = [...AGENT_NODE_FLAGS, AGENT_BIN, '--insecure', '--listen', '127.0.0.1:0', '--datastore', 'redis', '--base-dir', base, '--datastore-port', '1'];
  const fails = (args: string[]) => run(process.execPath, args, { env: agentEnv(), timeout: 60_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  const [malformed, taken, controlBad] = await Promise.all([
    fails([...agentArgs, '--metrics-listen', 'metrics.example']),
    fails([...agentArgs, '--metrics-listen', `127.0.0.1:${agentMetricsPort}`]),
    fails([CONTROL_BIN, 'serve', '--data-dir', path.join(root, 'c'), '--metrics', 'nowhere']),
  ]);
  t.equal(malformed.code, 2, 'the agent refuses a malformed metricsListen');
  t.match(malformed.stderr, /metricsListen must be HOST:PORT .*got "metrics\.example"/, malformed.stderr);
  t.equal(taken.code, 2, 'and one whose port is in use');
  t.match(taken.stderr, new RegExp(`metricsListen 127\\.0\\.0\\.1:${agentMetricsPort}: cannot serve /metrics there: the address is in use`), taken.stderr);
  t.equal(controlBad.code, 2, 'the control refuses a malformed --metrics');
  t.match(controlBad.stderr, /--metrics must be HOST:PORT .*got "nowhere"/, controlBad.stderr);
});

t.test('control: --no-metrics serves none', async (t) => {
  await control.kill('SIGTERM');
  control.args = [...control.args, '--no-metrics'];
  await control.start();
  t.equal(control.current!.metricsPort, null, 'the listening line reports no metrics port');
  await waitFor('the control\'s listening log line', async () => control.current!.logs.some((l) => l.includes('"metrics":"off"')), 30_000);
  t.pass('and its log line says metrics are off');
  const refused = await fetch(`http://127.0.0.1:${controlMetricsPort}/metrics`).then(() => false, () => true);
  t.ok(refused, 'the earlier metrics port is closed');
});

/** TCP ports a process listens on: its socket inodes, looked up in /proc/net/tcp{,6} (state 0A, LISTEN). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(':').at(-1)!, 16));
    }
  }
  return ports;
}
