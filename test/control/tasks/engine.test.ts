// The engine ends a task in the same transaction as the workflow's last
// bookkeeping (the instance ACTIVE again, task_id cleared): a control killed
// between the two must not leave the instance ACTIVE, free for a new task,
// while its old task still says RUNNING and will run its last step again
// when the control comes back. The kill is injected (the task store refuses
// to record the task's end, as a kill -9 at that point would leave it); the
// workflows, the stores and SQLite are the real ones.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import type { TestLike } from '../../support/agent.js';
import { openDatabase } from '../../../control/db/database.js';
import { ControlEvents } from '../../../control/events.js';
import { InstanceStore } from '../../../control/store/instances.js';
import { BackupStore } from '../../../control/store/backups.js';
import { TaskStore } from '../../../control/store/tasks.js';
import { TaskEngine } from '../../../control/tasks/engine.js';
import type { Workflow } from '../../../control/tasks/workflow.js';
import type { ControlContext } from '../../../control/context.js';
import { createWorkflow } from '../../../control/workflows/create.js';
import { backupWorkflow } from '../../../control/workflows/backup.js';

const log = createLogger({ level: 'silent' });

function setup(t: TestLike) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-engine-'));
  const db = openDatabase(dir);
  t.teardown(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  db.prepare('INSERT INTO projects (name, created_at) VALUES (?, ?)').run('p', Date.now());
  const events = new ControlEvents();
  const c = {
    config: { taskDeadlineMs: 60_000, dataDir: dir },
    db,
    log,
    events,
    instances: new InstanceStore(db),
    backups: new BackupStore(db),
    tasks: new TaskStore(db),
  } as unknown as ControlContext;
  return c;
}

/** A task whose every step but the last is done, as a control that died just before that step leaves it. */
function taskAtLastStep(c: ControlContext, w: Workflow<object>, id: string, data: object): void {
  c.tasks.insert({ id, project: 'p', kind: w.kind, resource_id: 'i1', data: JSON.stringify(data), deadline: Date.now() + 60_000 }, w.steps.map((s) => s.name));
  w.steps.slice(0, -1).forEach((_, idx) => c.tasks.stepDone(id, idx, JSON.stringify(data)));
}

/** One life of the control: resume everything, with or without the injected kill before the task's end. */
async function life(c: ControlContext, w: Workflow<object>, taskId: string, killedBeforeTheEnd: boolean): Promise<void> {
  const tasks = killedBeforeTheEnd
    ? (Object.create(c.tasks, {
        finish: {
          value: () => {
            throw new Error('injected: the control was killed here');
          },
        },
      }) as TaskStore)
    : c.tasks;
  const engine = new TaskEngine({ db: c.db, tasks, events: c.events, log, maxAttempts: 1 });
  engine.register(w);
  engine.resumeAll();
  await engine.settled(taskId);
}

const cases: Array<[string, (c: ControlContext) => Workflow<object>, (c: ControlContext, taskId: string) => object]> = [
  [
    'create',
    (c) => createWorkflow(c) as unknown as Workflow<object>,
    (c, taskId) => {
      c.instances.insert({ id: 'i1', project: 'p', name: 'n', datastore: 'mariadb', datastore_version: '11.4', flavor_id: 'f', volume_size_gb: 1, restored_from_backup_id: null });
      c.instances.update('i1', { task_id: taskId });
      return { instanceId: 'i1', prepare: { rootPassword: '', databases: [], users: [], overrides: {} } };
    },
  ],
  [
    'backup',
    (c) => backupWorkflow(c) as unknown as Workflow<object>,
    (c, taskId) => {
      c.instances.insert({ id: 'i1', project: 'p', name: 'n', datastore: 'mariadb', datastore_version: '11.4', flavor_id: 'f', volume_size_gb: 1, restored_from_backup_id: null });
      c.instances.update('i1', { status: 'BACKUP', task_id: taskId });
      c.backups.insert({ id: 'b1', project: 'p', instance_id: 'i1', name: 'b', kind: 'FULL', parent_id: null, datastore: 'mariadb', datastore_version: '11.4' });
      c.backups.update('b1', { status: 'COMPLETED', task_id: null });
      return { backupId: 'b1', instanceId: 'i1', kind: 'FULL', parentArtifact: null };
    },
  ],
];

for (const [kind, workflow, seed] of cases) {
  t.test(`${kind}: killed (injected) between the last step and the task's end`, async (t) => {
    const c = setup(t);
    const w = workflow(c);
    const data = seed(c, 't1');
    taskAtLastStep(c, w, 't1', data);
    const before = c.instances.get('i1')!.status;

    await life(c, w, 't1', true);
    const task = c.tasks.get('t1')!;
    const inst = c.instances.get('i1')!;
    t.equal(task.state, 'RUNNING', 'the task did not end (the control died first)');
    t.equal(inst.status, before, `so the instance is still ${before}, not ACTIVE while its task runs`);
    t.equal(inst.task_id, 't1', 'and still names its task: no other task can start on it');

    await life(c, w, 't1', false);
    t.equal(c.tasks.get('t1')!.state, 'SUCCEEDED', 'the resumed task SUCCEEDED');
    t.equal(c.instances.get('i1')!.status, 'ACTIVE', 'with the instance ACTIVE');
    t.equal(c.instances.get('i1')!.task_id, null, 'and free for the next task');
  });
}
