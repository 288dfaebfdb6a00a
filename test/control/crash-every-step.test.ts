// The durable task engine keeps its promise at EVERY step: for each step of
// the create workflow and of the backup workflow (the names come from the
// workflow definitions, so a new step is covered without touching this
// file), start the operation, wait (reading the control's SQLite read-only)
// until the task's current step is that step, kill -9 coffer-control, start
// it again on the same data dir, and check that
// - the instance ends ACTIVE and answers the mariadb client (or ERROR with a
//   fault naming a step of the workflow; nothing stays in BUILD),
// - the backup ends COMPLETED with its object under <data-dir>/backups, the
//   size and sha256 the control recorded (or FAILED with a reason),
// - exactly one agent process runs per instance (a resumed step never starts
//   a second agent), and no task is left RUNNING: once the instance is
//   ACTIVE again its task has ended (the engine commits the last
//   bookkeeping step and the task's end together), so the task is read at
//   once, as a user who saw the instance ACTIVE would.
// A step that relays the agent's progress (Prepare, the backup) is killed a
// second time once the agent is at work; and the backup is killed once more
// with the agent frozen, so that the resumed step calls an agent still busy
// with the first backup.
// One control runs everything: the creates one after another, then every
// backup crash on one instance, to keep the runtime reasonable.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { waitFor } from '../support/agent.js';
import { mariadb } from '../support/mariadb-client.js';
import { agentPids, ccall, startControl, type ControlHarness } from '../support/control.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type Instance } from '../../proto/gen/coffer/control/v1/instances.js';
import { BackupKind, BackupStatus, CreateBackupRequest, type Backup, type CreateBackupResponse, type GetBackupResponse } from '../../proto/gen/coffer/control/v1/backups.js';
import { createWorkflow } from '../../control/workflows/create.js';
import { backupWorkflow } from '../../control/workflows/backup.js';
import type { ControlContext } from '../../control/context.js';

t.setTimeout(30 * 60_000);

// Building a workflow reads only its deadline from the context; the step
// list is what the engine records and runs.
const stub = { config: { taskDeadlineMs: 60_000 } } as unknown as ControlContext;
const CREATE_STEPS = createWorkflow(stub).steps.map((s) => s.name);
const BACKUP_STEPS = backupWorkflow(stub).steps.map((s) => s.name);

const PASSWORD = 'Crash-pass-1';
// The pause before each step keeps the task at a step long enough for the
// 5 ms poll below to see it and kill: 500 ms, as the replication crash tests
// (test/support/replication-crash.ts) have run with, is ample. It was 1000,
// which spent ~35 s of this file's runtime asleep (every step of every
// create and backup, resumed steps again).
const STEP_DELAY_MS = 500;

function request(name: string): CreateInstanceRequest {
  return CreateInstanceRequest.fromPartial({
    name,
    databases: [{ name: 'app' }],
    users: [{ name: 'app', host: '%', password: PASSWORD, databases: ['app'] }],
  });
}

interface StepAtKill {
  taskState: string;
  stepState: string;
  attempts: number;
  /** Progress events the agent had relayed for this step when the control died. */
  agentEvents: number;
}

/** A read-only look at the control's own records (the control may be dead). */
function readDb<T>(control: ControlHarness, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(control.dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

// The engine's own events are 'step', 'done' and 'failed'; anything else in
// a step is the agent's progress, relayed (Prepare phases, backup bytes).
const AGENT_EVENTS = "SELECT COUNT(*) FROM task_events e WHERE e.task_id = t.id AND e.step = s.name AND e.phase NOT IN ('step', 'done', 'failed')";

function stepRow(db: Database.Database, taskId: string, step: string): StepAtKill | undefined {
  return db
    .prepare(
      `SELECT t.state AS taskState, s.state AS stepState, s.attempts AS attempts, (${AGENT_EVENTS}) AS agentEvents
       FROM tasks t JOIN task_steps s ON s.task_id = t.id AND s.name = t.current_step
       WHERE t.id = ? AND t.current_step = ?`,
    )
    .get(taskId, step) as StepAtKill | undefined;
}

/**
 * Where in a step the control dies:
 * - 'start': as soon as the task's current step is the step (for a quick
 *   step that can be just after it finished, before the next one starts);
 * - 'agent-working': once the agent has relayed progress for the step
 *   (its operation is under way), or else as soon as the step is over.
 */
type KillPoint = 'start' | 'agent-working';

/**
 * Polls the tasks table (every few ms, read-only) until the task reaches the
 * kill point, then kill -9's the control at once and starts it again.
 * Returns the step's record as the dead control left it: 'running' means it
 * died inside the step, 'done' between that step and the next.
 */
async function killAtStep(control: ControlHarness, taskId: string, step: string, point: KillPoint = 'start', beforeKill?: () => unknown): Promise<StepAtKill> {
  const db = new Database(path.join(control.dataDir, 'coffer.db'), { readonly: true, fileMustExist: true });
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const r = stepRow(db, taskId, step);
      if (r && (point === 'start' || r.agentEvents >= 1 || r.stepState !== 'running' || r.taskState !== 'RUNNING')) break;
      if (Date.now() > deadline) throw new Error(`task ${taskId} never reached step ${step} (${point})`);
      await new Promise((res) => setTimeout(res, 5));
    }
  } finally {
    db.close();
  }
  await beforeKill?.();
  await control.kill('SIGKILL');
  const atKill = readDb(control, (d) => stepRow(d, taskId, step))!;
  await control.start();
  return atKill;
}

/** True if the agent relayed progress while running this step of this task (after the resume, say). */
function stepRelaysAgentProgress(control: ControlHarness, taskId: string, step: string): boolean {
  return readDb(control, (d) => (d.prepare("SELECT COUNT(*) AS n FROM task_events WHERE task_id = ? AND step = ? AND phase NOT IN ('step', 'done', 'failed')").get(taskId, step) as { n: number }).n > 0);
}

const describe = (a: StepAtKill): string => `killed with the task ${a.taskState}, step ${a.stepState === 'running' ? 'running' : a.stepState} (attempt ${a.attempts}, ${a.agentEvents} agent progress events relayed)`;

/** Agent pids per instance id (from each agent's argv: <data-dir>/instances/<id>/agent.json). */
function agentsByInstance(control: ControlHarness): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const prefix = path.join(control.dataDir, 'instances') + path.sep;
  for (const pid of agentPids(control.dataDir)) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const cfg = argv.find((a) => a.startsWith(prefix) && a.endsWith('agent.json'));
    const id = cfg ? cfg.slice(prefix.length).split(path.sep)[0]! : '?';
    out.set(id, [...(out.get(id) ?? []), pid]);
  }
  return out;
}

function checkOneAgent(t: Test, control: ControlHarness, instanceId: string, what: string): void {
  const pids = agentsByInstance(control).get(instanceId) ?? [];
  t.equal(pids.length, 1, `${what}: exactly one agent runs for the instance (pids ${pids.join(', ') || 'none'})`);
}

/** Warnings the control logged while resuming (a busy agent shows up here as a retried step). */
function retries(control: ControlHarness, taskId: string): string[] {
  return (control.current?.logs ?? [])
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes(taskId) && l.includes('retrying'))
    .map((l) => {
      try {
        const j = JSON.parse(l) as { step?: string; attempt?: number; msg?: string };
        return `${j.step} attempt ${j.attempt}: ${j.msg}`;
      } catch {
        return l;
      }
    });
}

/** Live backup tool processes (mariadb-backup, mysqldump) working for an instance. */
function backupTools(control: ControlHarness, instanceId: string): number[] {
  const dir = path.join(control.dataDir, 'instances', instanceId);
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (/(mariabackup|mariadb-backup|mysqldump|mariadb-dump)$/.test(argv[0] ?? '') && argv.some((a) => a.includes(dir))) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** The agent's warnings and errors since `since` (its log is JSON lines in <instance dir>/agent.log). */
function agentWarnings(control: ControlHarness, instanceId: string, since: number): string[] {
  const file = path.join(control.dataDir, 'instances', instanceId, 'agent.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        const j = JSON.parse(l) as { level?: number; time?: number; msg?: string; err?: { message?: string } };
        return (j.level ?? 0) >= 40 && (j.time ?? 0) >= since ? [`${j.msg}${j.err?.message ? `: ${j.err.message}` : ''}`] : [];
      } catch {
        return [];
      }
    });
}

const stepPattern = (steps: string[]) => new RegExp(`^(${steps.map((s) => s.replace(/[-]/g, '\\-')).join('|')})( \\(deadline\\))?$`);

async function settledInstance(control: ControlHarness, token: string, id: string): Promise<Instance> {
  return waitFor(`instance ${id} to leave its transient status`, async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id }, token);
    const s = r.instance!.status;
    return s === InstanceStatus.INSTANCE_STATUS_ACTIVE || s === InstanceStatus.INSTANCE_STATUS_ERROR ? r.instance : false;
  }, 240_000);
}

async function settledBackup(control: ControlHarness, token: string, id: string): Promise<Backup> {
  return waitFor(`backup ${id} to finish`, async () => {
    const r = await ccall<GetBackupResponse>(control.clients.backups, 'getBackup', { id }, token);
    const s = r.backup!.status;
    return s === BackupStatus.BACKUP_STATUS_COMPLETED || s === BackupStatus.BACKUP_STATUS_FAILED ? r.backup : false;
  }, 240_000);
}

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

t.test('kill -9 of the control at every step of create and of backup', async (t) => {
  t.ok(CREATE_STEPS.length >= 2 && BACKUP_STEPS.length >= 1, `steps from the workflows: create [${CREATE_STEPS.join(', ')}], backup [${BACKUP_STEPS.join(', ')}]`);
  const control = await startControl(t, { stepDelayMs: STEP_DELAY_MS });
  const token = control.token('crash');
  const active: Instance[] = [];

  const createAndCrash = (step: string, point: KillPoint): Promise<boolean> => {
    let relays = false;
    return t.test(`create, killed at step ${step} (${point})`, async (t) => {
      const created = await ccall<CreateInstanceResponse>(control.clients.instances, 'createInstance', request(`crash-${step}`), token);
      const id = created.instance!.id;
      const atKill = await killAtStep(control, created.taskId, step, point);
      t.comment(describe(atKill));

      const i = await settledInstance(control, token, id);
      for (const r of retries(control, created.taskId)) t.comment(`resumed step retried: ${r}`);
      if (i.status === InstanceStatus.INSTANCE_STATUS_ERROR) {
        t.match(i.fault?.step ?? '', stepPattern(CREATE_STEPS), `the ERROR's fault names a create step (${i.fault?.step})`);
        t.ok(i.fault?.message, `and says why: ${i.fault?.message}`);
      }
      t.equal(i.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the resumed create finished ACTIVE');
      if (i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE) {
        const q = await mariadb(i.port, 'app', PASSWORD, 'SELECT 1', 'app');
        t.equal(q.code, 0, `the mariadb client reaches it: ${q.stderr}`);
        active.push(i);
      }
      const task = readDb(control, (d) => d.prepare('SELECT state, error FROM tasks WHERE id = ?').get(created.taskId) as { state: string; error: string });
      t.not(task.state, 'RUNNING', `the create task ended (${task.state}${task.error ? `: ${task.error}` : ''})`);
      checkOneAgent(t, control, id, `create killed at ${step}`);
      relays = stepRelaysAgentProgress(control, created.taskId, step);
    }).then(() => relays);
  };

  let creates = 0;
  for (const step of CREATE_STEPS) {
    const relays = await createAndCrash(step, 'start');
    creates++;
    // A step that runs an agent operation (Prepare) is also killed while the agent is at work.
    if (relays) {
      await createAndCrash(step, 'agent-working');
      creates++;
    }
  }

  t.equal(agentPids(control.dataDir).length, creates, 'one agent per created instance, none started twice');

  // Every backup crash on one instance; FULL first, then INCREMENTAL (its
  // parent's artifact rides in the task data across the restart).
  const inst = active[0];
  if (!inst) {
    t.fail('no ACTIVE instance to back up');
    return;
  }
  const seed = await mariadb(inst.port, 'app', PASSWORD, 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100)); INSERT INTO t SELECT seq, REPEAT(\'x\', 100) FROM seq_1_to_5000', 'app');
  t.equal(seed.code, 0, `some data to back up: ${seed.stderr}`);

  const backupAndCrash = (kind: BackupKind, step: string, point: KillPoint, busyAgent = false): Promise<boolean> => {
    const label = kind === BackupKind.BACKUP_KIND_FULL ? 'full' : 'incremental';
    let relays = false;
    const title = busyAgent
      ? `${label} backup, killed at step ${step} while the agent is at work, and the agent still busy with it when the control resumes`
      : `${label} backup, killed at step ${step} (${point})`;
    return t.test(title, async (t) => {
      const extra = await mariadb(inst.port, 'app', PASSWORD, `INSERT INTO t VALUES (${10_000 + Math.floor(Math.random() * 1e6)}, '${label}-${step}-${point}')`, 'app');
      t.equal(extra.code, 0, extra.stderr);
      const created = await ccall<CreateBackupResponse>(control.clients.backups, 'createBackup', CreateBackupRequest.fromPartial({ instanceId: inst.id, name: `crash-${label}-${step}`, kind }), token);
      const id = created.backup!.id;

      // The busy case: the agent is frozen (SIGSTOP) just before the control
      // dies, so it cannot notice its caller went away; it is let go only once the
      // resumed step has called it again. It then meets the new call while
      // its first backup is still running (or being torn down).
      let frozen: number[] = [];
      const thaw = (): void => {
        for (const pid of frozen) process.kill(pid, 'SIGCONT');
        frozen = [];
      };
      t.teardown(thaw);
      const atKill = await killAtStep(control, created.taskId, step, point, busyAgent
        ? () => {
            frozen = agentsByInstance(control).get(inst.id) ?? [];
            for (const pid of frozen) process.kill(pid, 'SIGSTOP');
          }
        : undefined);
      t.comment(describe(atKill));
      if (busyAgent) {
        await waitFor('the resumed step to call the agent again', async () => {
          const r = readDb(control, (d) => d.prepare('SELECT attempts FROM task_steps WHERE task_id = ? AND name = ?').get(created.taskId, step) as { attempts: number });
          return r.attempts > atKill.attempts;
        }, 60_000);
        await new Promise((r) => setTimeout(r, 1500));
        const tools = backupTools(control, inst.id);
        t.comment(`when the agent is let go, its first backup's tool is ${tools.length ? `still running (pids ${tools.join(', ')})` : 'gone already'}`);
        const thawedAt = Date.now();
        thaw();
        const b = await settledBackup(control, token, id);
        for (const l of agentWarnings(control, inst.id, thawedAt)) t.comment(`agent: ${l}`);
        t.not(b.status, BackupStatus.BACKUP_STATUS_BUILDING, 'the backup did not stay BUILDING');
      }

      const b = await settledBackup(control, token, id);
      for (const r of retries(control, created.taskId)) t.comment(`resumed step retried: ${r}`);
      if (b.status === BackupStatus.BACKUP_STATUS_FAILED) {
        t.match(b.fault?.step ?? '', stepPattern(BACKUP_STEPS), `the FAILED backup's fault names a backup step (${b.fault?.step})`);
        t.ok(b.fault?.message, `and says why: ${b.fault?.message}`);
      }
      t.equal(b.status, BackupStatus.BACKUP_STATUS_COMPLETED, 'the resumed backup COMPLETED');
      if (b.status === BackupStatus.BACKUP_STATUS_COMPLETED) {
        const root = path.join(control.dataDir, 'backups');
        const file = path.resolve(root, b.location);
        t.ok(b.location && file.startsWith(root + path.sep), `the object is under <data-dir>/backups (${b.location})`);
        t.ok(existsSync(file), 'the stored object exists');
        const size = existsSync(file) ? statSync(file).size : 0;
        t.ok(size > 0, `it is not empty (${size} bytes)`);
        t.equal(size, Number(b.sizeBytes), 'its size is the one the control recorded');
        if (size > 0) t.equal(await sha256(file), b.checksum, 'its sha256 is the checksum the control recorded (the object is the backup the control knows)');
      }
      const i = await settledInstance(control, token, inst.id);
      t.equal(i.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the instance is ACTIVE again after the backup');
      const q = await mariadb(i.port, 'app', PASSWORD, 'SELECT COUNT(*) FROM t', 'app');
      t.equal(q.code, 0, `and still answers: ${q.stderr}`);
      const task = readDb(control, (d) => d.prepare('SELECT state, error FROM tasks WHERE id = ?').get(created.taskId) as { state: string; error: string });
      t.not(task.state, 'RUNNING', `the backup task ended (${task.state}${task.error ? `: ${task.error}` : ''})`);
      checkOneAgent(t, control, inst.id, `backup killed at ${step}`);
      relays = stepRelaysAgentProgress(control, created.taskId, step);
    }).then(() => relays);
  };

  // FULL first, then INCREMENTAL (its parent's artifact rides in the task
  // data across the restart).
  const agentSteps: string[] = [];
  for (const kind of [BackupKind.BACKUP_KIND_FULL, BackupKind.BACKUP_KIND_INCREMENTAL]) {
    for (const step of BACKUP_STEPS) {
      const relays = await backupAndCrash(kind, step, 'start');
      // A step that runs the agent's backup is also killed mid-stream.
      if (relays) {
        await backupAndCrash(kind, step, 'agent-working');
        if (kind === BackupKind.BACKUP_KIND_FULL) agentSteps.push(step);
      }
    }
  }
  t.ok(agentSteps.length > 0, `some backup step runs the agent's backup (${agentSteps.join(', ')})`);
  // Enough data that the agent's backup tool is still streaming when the
  // agent is let go (a few MB finish before the control is back).
  const bulk = await mariadb(inst.port, 'app', PASSWORD, 'CREATE TABLE big (id INT PRIMARY KEY, v TEXT); INSERT INTO big SELECT seq, REPEAT(MD5(seq), 8) FROM seq_1_to_300000', 'app');
  t.equal(bulk.code, 0, `more data for the busy-agent case: ${bulk.stderr}`);
  for (const step of agentSteps) await backupAndCrash(BackupKind.BACKUP_KIND_FULL, step, 'agent-working', true);

  const running = readDb(control, (d) => (d.prepare("SELECT COUNT(*) AS n FROM tasks WHERE state = 'RUNNING'").get() as { n: number }).n);
  t.equal(running, 0, 'no task is left RUNNING');
  const stuck = readDb(control, (d) => d.prepare("SELECT id, status FROM backups WHERE status IN ('NEW', 'BUILDING', 'SAVING')").all());
  t.same(stuck, [], 'no backup is left NEW or BUILDING');
  t.equal(agentPids(control.dataDir).length, creates, 'still one agent per instance after every crash');
});
