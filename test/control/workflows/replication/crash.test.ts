// The replication workflows keep the task engine's promise: kill -9 of the
// control at each step of create-replicas and of a switchover (the step
// names come from the workflow definitions), then a restart on the same
// data dir, ends with a consistent set: one writable source, every other
// member a replica of it (refusing writes, following it) or in ERROR with a
// fault; one agent per instance; no task left running.
import t, { type Test } from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { InstanceStatus, type Instance, type PromoteToReplicaSourceResponse } from '../../../../proto/gen/coffer/control/v1/instances.js';
import { agentPids, ccall, startControl, type ControlHarness } from '../../../support/control.js';
import { waitFor } from '../../../support/agent.js';
import { createReplicas, createSource, DATASTORE_USERS, getInstance, isActive, waitInstance, waitRows } from '../../../support/replication.js';
import { createReplicasWorkflow } from '../../../../control/workflows/replication/create-replicas.js';
import { switchoverWorkflow } from '../../../../control/workflows/replication/switchover.js';
import type { ControlContext } from '../../../../control/context.js';

t.setTimeout(40 * 60_000);

// COFFER_CRASH_STEPS=a,b: only those steps (of either workflow), to look at one closely.
const only = (steps: string[]): string[] => (process.env.COFFER_CRASH_STEPS ? steps.filter((s) => process.env.COFFER_CRASH_STEPS!.split(',').includes(s)) : steps);
const stub = { config: { taskDeadlineMs: 60_000 } } as unknown as ControlContext;
const CREATE_STEPS = only(createReplicasWorkflow(stub).steps.map((s) => s.name));
const SWITCHOVER_STEPS = only(switchoverWorkflow(stub).steps.map((s) => s.name));
const ds = process.env.COFFER_REPLICATION_DATASTORE ?? 'mariadb';
const u = DATASTORE_USERS[ds]!;

function readDb<T>(h: ControlHarness, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(h.dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** kill -9 of the control once the task's current step is `step`, then a start on the same data dir. */
async function killAtStep(h: ControlHarness, taskId: string, step: string): Promise<string> {
  await waitFor(`task ${taskId} at step ${step}`, async () => readDb(h, (db) => {
    const r = db.prepare('SELECT state, current_step FROM tasks WHERE id = ?').get(taskId) as { state: string; current_step: string } | undefined;
    return r && (r.current_step === step || r.state !== 'RUNNING');
  }), 300_000);
  await h.kill('SIGKILL');
  const at = readDb(h, (db) => db.prepare('SELECT t.state, s.state AS step_state FROM tasks t JOIN task_steps s ON s.task_id = t.id AND s.name = ? WHERE t.id = ?').get(step, taskId) as { state: string; step_state: string });
  await h.start();
  return `task ${at.state}, step ${at.step_state}`;
}

function taskState(h: ControlHarness, taskId: string): string {
  return readDb(h, (db) => (db.prepare('SELECT state FROM tasks WHERE id = ?').get(taskId) as { state: string }).state);
}

function agentsPerInstance(h: ControlHarness): Map<string, number> {
  const out = new Map<string, number>();
  const prefix = path.join(h.dataDir, 'instances') + path.sep;
  for (const pid of agentPids(h.dataDir)) {
    const cfg = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((a) => a.startsWith(prefix) && a.endsWith('agent.json'));
    const id = cfg ? cfg.slice(prefix.length).split(path.sep)[0]! : '?';
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/**
 * Waits until no member has a task and then checks the set as a user
 * would: one ACTIVE source taking writes; each other member ACTIVE as its
 * replica (refusing writes, following it) or ERROR with a fault. Returns
 * the source and its ACTIVE replicas.
 */
async function consistent(t: Test, h: ControlHarness, token: string, ids: string[], row: number): Promise<{ source: Instance; replicas: Instance[] }> {
  const members = await waitFor('every member settled', async () => {
    const all = await Promise.all(ids.map((id) => getInstance(h, token, id)));
    return all.every((m) => !m.taskId) ? all : false;
  }, 300_000);
  const sources = members.filter((m) => !m.replicaOf && m.status === InstanceStatus.INSTANCE_STATUS_ACTIVE);
  t.equal(sources.length, 1, `one ACTIVE source (${members.map((m) => `${m.name}:${InstanceStatus[m.status]}${m.replicaOf ? `->${m.replicaOf.id.slice(0, 8)}` : ''}`).join(', ')})`);
  const source = sources[0]!;
  // A source whose lease ran out while the control was down refuses writes
  // until the restarted control confirms it again (a heartbeat): the user retries.
  let refused = '';
  const accepted = await waitFor(`the source ${source.name} takes writes`, async () => {
    refused = await u.refusal(source.port, row);
    return refused === '' || (/Duplicate entry/.test(refused) && 'duplicate');
  }, 30_000).catch(() => false);
  t.ok(accepted, `the source ${source.name} takes writes${refused ? ` (first refused: ${refused})` : ''}`);
  if (!accepted) t.comment(`refusal: ${refused}\n${diagnose(h, ids)}`);
  const replicas: Instance[] = [];
  for (const m of members.filter((x) => x.id !== source.id)) {
    if (m.status === InstanceStatus.INSTANCE_STATUS_ERROR) {
      t.ok(m.fault?.message, `${m.name} is ERROR with a fault: ${m.fault?.message}`);
      continue;
    }
    t.equal(m.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, `${m.name} is ACTIVE`);
    t.equal(m.replicaOf?.id, source.id, `${m.name} is a replica of ${source.name}`);
    await waitRows(u, m.port, [row], `${m.name} follows the source`).catch((err) => {
      t.comment(diagnose(h, ids));
      throw err;
    });
    t.not(await u.refusal(m.port, row + 1), '', `${m.name} refuses writes`);
    replicas.push(m);
  }
  const agents = agentsPerInstance(h);
  t.ok(ids.every((id) => (agents.get(id) ?? 0) <= 1), 'at most one agent per instance');
  return { source, replicas };
}

/** What the agents last reported and what they logged about roles and fencing (for a failure). */
function diagnose(h: ControlHarness, ids: string[]): string {
  const out: string[] = [];
  for (const id of ids) {
    out.push(`== ${id}: ${readDb(h, (db) => JSON.stringify(db.prepare('SELECT i.name, i.status, i.replica_of, i.fenced, h.replication FROM instances i LEFT JOIN instance_heartbeats h ON h.instance_id = i.id WHERE i.id = ?').get(id)))}`);
    try {
      const log = readFileSync(path.join(h.dataDir, 'instances', id, 'agent.log'), 'utf8').split('\n');
      out.push(...log.filter((l) => /fence|read-only|refusing|writes|source|replica|promot|demot|lease|confirm/i.test(l)).slice(-25).map((l) => l.slice(0, 400)));
    } catch (err) {
      out.push(`(no agent log: ${(err as Error).message})`);
    }
  }
  return out.join('\n');
}

t.test(`${ds}: kill -9 of the control at every step of create-replicas`, { skip: CREATE_STEPS.length === 0 }, async (t) => {
  const h = await startControl(t, { stepDelayMs: 500 });
  const token = h.token('p1');
  const source = await createSource(h, token, u, 'crash-src', 10);
  let row = 1000;
  for (const step of CREATE_STEPS) {
    const created = await createReplicas(h, token, source.id, `r-${step}`, 2);
    const at = await killAtStep(h, created.taskId, step);
    await waitFor('the task ended', async () => taskState(h, created.taskId) !== 'RUNNING', 300_000);
    t.comment(`killed at ${step} (${at}); the task ended ${taskState(h, created.taskId)}`);
    const ids = [source.id, ...(await getInstance(h, token, source.id)).replicas.map((r) => r.id)];
    const { replicas } = await consistent(t, h, token, ids, row);
    row += 10;
    for (const r of created.replicas) {
      const i = await getInstance(h, token, r.id);
      t.ok(isActive(i) || i.status === InstanceStatus.INSTANCE_STATUS_ERROR, `${i.name} ended ACTIVE or ERROR after a kill at ${step}`);
      if (isActive(i)) await waitRows(u, i.port, [1, 10], `${i.name} holds the source's rows`);
    }
    t.ok(replicas.length >= 2, 'the new replicas serve');
    // Keep the set small: the replicas go again (deleting them drops their access).
    for (const r of created.replicas) await ccall(h.clients.instances, 'deleteInstance', { id: r.id }, token);
    await waitFor('the replicas deleted', async () => (await getInstance(h, token, source.id)).replicas.length === 0, 120_000);
  }
});

t.test(`${ds}: kill -9 of the control at every step of a switchover`, { skip: SWITCHOVER_STEPS.length === 0 }, async (t) => {
  const h = await startControl(t, { stepDelayMs: 500 });
  const token = h.token('p1');
  const first = await createSource(h, token, u, 'sw-src', 10);
  const created = await createReplicas(h, token, first.id, 'sw-r', 2);
  await Promise.all(created.replicas.map((r) => waitInstance(h, token, r.id, `${r.name} ACTIVE`, isActive)));
  const ids = [first.id, ...created.replicas.map((r) => r.id)];
  let row = 2000;
  let set = await consistent(t, h, token, ids, row++);
  for (const step of SWITCHOVER_STEPS) {
    // Fenced members rejoin on their own; a switchover needs the whole set ACTIVE.
    await waitFor('the whole set ACTIVE', async () => (await Promise.all(ids.map((id) => getInstance(h, token, id)))).every(isActive), 300_000);
    const candidate = set.replicas[0]!;
    const p = await ccall<PromoteToReplicaSourceResponse>(h.clients.instances, 'promoteToReplicaSource', { id: candidate.id }, token);
    const at = await killAtStep(h, p.taskId, step);
    await waitFor('the task ended', async () => taskState(h, p.taskId) !== 'RUNNING', 300_000);
    t.comment(`killed at ${step} (${at}); the switchover ended ${taskState(h, p.taskId)}`);
    row += 10;
    set = await consistent(t, h, token, ids, row);
    if (taskState(h, p.taskId) === 'SUCCEEDED') t.equal(set.source.id, candidate.id, `the promoted ${candidate.name} is the source`);
  }
});
