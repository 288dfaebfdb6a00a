// kill -9 of the control in the middle of a replication workflow, and what
// a user checks after the restart: the task engine's promise that any step
// of create-replicas, switchover or eject ends in a consistent set (one
// writable source, every other member a replica of it, refusing writes and
// following it, or in ERROR with a fault; one agent per instance; no task
// left running). Shared by the crash tests under
// test/control/workflows/replication/.
import type { Test } from 'tap';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { InstanceStatus, type Instance } from '../../proto/gen/coffer/control/v1/instances.js';
import { agentPids, type ControlHarness } from './control.js';
import { waitFor } from './agent.js';
import { getInstance, waitRows, writeToSource, type DatastoreUser } from './replication.js';

/** The datastores the control's replication workflow tests run on. */
export const DATASTORES = (process.env.COFFER_REPLICATION_DATASTORES ?? 'mariadb,postgresql').split(',');

/**
 * The steps a crash test kills the control at, for one datastore. The
 * workflows are the same code for every datastore (datastores.ts holds the
 * differences), so one datastore is killed at every step
 * (COFFER_CRASH_EVERY_STEP, default postgresql: its re-point is the
 * heavier demote) and the others at `sample`: the first step, a middle one,
 * the last, and the steps whose agent calls differ for them.
 * COFFER_CRASH_EVERY_STEP=all kills every datastore at every step;
 * COFFER_CRASH_STEPS=a,b narrows to those steps, to look at one closely.
 */
export function crashSteps(ds: string, all: readonly string[], sample: readonly string[]): string[] {
  for (const s of sample) if (!all.includes(s)) throw new Error(`the crash sample names ${s}, not a step of ${all.join(', ')}`);
  const every = (process.env.COFFER_CRASH_EVERY_STEP ?? 'postgresql').split(',');
  const steps = every.includes('all') || every.includes(ds) ? [...all] : all.filter((s) => sample.includes(s));
  const only = process.env.COFFER_CRASH_STEPS?.split(',');
  return only ? steps.filter((s) => only.includes(s)) : steps;
}

/**
 * How the chosen steps are killed at: by default one task is killed at each
 * of them in turn (each restart resumes it at the step it was killed at; the
 * next kill waits for the next step) and the set is checked once it has
 * ended. COFFER_CRASH_EACH=1 starts one task per step instead and checks
 * the set after each single kill (slower; to look at a step closely).
 */
export function crashRounds(steps: readonly string[]): string[][] {
  if (process.env.COFFER_CRASH_EACH === '1') return steps.map((s) => [s]);
  return steps.length ? [[...steps]] : [];
}

export function readDb<T>(h: ControlHarness, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(h.dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** kill -9 of the control once the task's current step is `step`, then a start on the same data dir. */
export async function killAtStep(h: ControlHarness, taskId: string, step: string, o: { afterKill?: () => void } = {}): Promise<string> {
  await waitFor(`task ${taskId} at step ${step}`, async () => readDb(h, (db) => {
    const r = db.prepare('SELECT state, current_step FROM tasks WHERE id = ?').get(taskId) as { state: string; current_step: string } | undefined;
    return r && (r.current_step === step || r.state !== 'RUNNING');
  }), 300_000);
  await h.kill('SIGKILL');
  const at = readDb(h, (db) => db.prepare('SELECT t.state, s.state AS step_state FROM tasks t JOIN task_steps s ON s.task_id = t.id AND s.name = ? WHERE t.id = ?').get(step, taskId) as { state: string; step_state: string });
  o.afterKill?.();
  await h.start();
  return `task ${at.state}, step ${at.step_state}`;
}

export function taskState(h: ControlHarness, taskId: string): string {
  return readDb(h, (db) => (db.prepare('SELECT state FROM tasks WHERE id = ?').get(taskId) as { state: string }).state);
}

/** Waits until the task is no longer RUNNING (after a restart it resumes); its end state. */
export async function taskEnded(h: ControlHarness, taskId: string): Promise<string> {
  await waitFor(`task ${taskId} ended`, async () => taskState(h, taskId) !== 'RUNNING', 300_000);
  return taskState(h, taskId);
}

/** The pid of the one agent running for an instance (by the config file on its command line). */
export function agentPidOf(h: ControlHarness, instanceId: string): number {
  const dir = path.join(h.dataDir, 'instances', instanceId) + path.sep;
  const pids = agentPids(h.dataDir).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.startsWith(dir) && a.endsWith('agent.json'));
    } catch {
      return false; // exited since it was listed
    }
  });
  if (pids.length !== 1) throw new Error(`instance ${instanceId} has ${pids.length} agents running, not one`);
  return pids[0]!;
}

/** How many agents run for each instance (by the config file on their command line). */
export function agentsPerInstance(h: ControlHarness): Map<string, number> {
  const out = new Map<string, number>();
  const prefix = path.join(h.dataDir, 'instances') + path.sep;
  for (const pid of agentPids(h.dataDir)) {
    let cfg: string | undefined;
    try {
      cfg = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find((a) => a.startsWith(prefix) && a.endsWith('agent.json'));
    } catch {
      continue; // exited since it was listed
    }
    const id = cfg ? cfg.slice(prefix.length).split(path.sep)[0]! : '?';
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/**
 * Waits until no member has a task and then checks the set as a user
 * would: one ACTIVE source taking writes (row `row`); each other member
 * ACTIVE as its replica (refusing writes, following it) or ERROR with a
 * fault. Returns the source and its ACTIVE replicas.
 */
export async function consistent(t: Test, h: ControlHarness, token: string, u: DatastoreUser, ids: string[], row: number): Promise<{ source: Instance; replicas: Instance[] }> {
  const members = await waitFor('every member settled', async () => {
    const all = await Promise.all(ids.map((id) => getInstance(h, token, id)));
    return all.every((m) => !m.taskId) ? all : false;
  }, 300_000);
  const sources = members.filter((m) => !m.replicaOf && m.status === InstanceStatus.INSTANCE_STATUS_ACTIVE);
  t.equal(sources.length, 1, `one ACTIVE source (${members.map((m) => `${m.name}:${InstanceStatus[m.status]}${m.replicaOf ? `->${m.replicaOf.id.slice(0, 8)}` : ''}`).join(', ')})`);
  const source = sources[0]!;
  // A source whose lease ran out while the control was down refuses writes
  // until the restarted control confirms it again (a heartbeat): the user retries.
  const { accepted, refused } = await writeToSource(u, source.port, row);
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
export function diagnose(h: ControlHarness, ids: string[]): string {
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

/**
 * Writes row after row to `port` (from `firstRow` on) until stopped, and
 * counts what the server accepted: an old source must accept none.
 */
export function writeProbe(u: DatastoreUser, port: number, firstRow: number): { stop(): Promise<{ accepted: number; tried: number }> } {
  let stopped = false;
  let accepted = 0;
  let tried = 0;
  const loop = (async () => {
    while (!stopped) {
      if ((await u.refusal(port, firstRow + tried++)) === '') accepted++;
      // A refused connection answers at once: pace the attempts.
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { accepted, tried };
    },
  };
}
