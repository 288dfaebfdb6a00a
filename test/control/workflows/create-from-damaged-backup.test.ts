// A create from a backup the store no longer holds intact fails at once:
// the agent's answer (DATA_LOSS for a tampered object, NOT_FOUND for a
// deleted one) is the same every time, so the control asks once, and the
// instance's fault carries the agent's message. Asking again would
// re-initialise the datadir and re-verify the whole chain each time.
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../support/agent.js';
import { mariadb } from '../../support/mariadb-client.js';
import { ccall, startControl, type ControlHarness } from '../../support/control.js';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type Instance } from '../../../proto/gen/coffer/control/v1/instances.js';
import { BackupKind, BackupStatus, CreateBackupRequest, type Backup, type CreateBackupResponse, type GetBackupResponse } from '../../../proto/gen/coffer/control/v1/backups.js';
import { TaskState, type GetTaskResponse, type Task } from '../../../proto/gen/coffer/control/v1/tasks.js';

t.setTimeout(15 * 60_000);

const PASSWORD = 'Damaged-pass-1';

async function settledInstance(control: ControlHarness, token: string, id: string): Promise<Instance> {
  return waitFor(`instance ${id} to leave BUILD`, async () => {
    const r = await ccall<GetInstanceResponse>(control.clients.instances, 'getInstance', { id }, token);
    const s = r.instance!.status;
    return s === InstanceStatus.INSTANCE_STATUS_ACTIVE || s === InstanceStatus.INSTANCE_STATUS_ERROR ? r.instance : false;
  }, 300_000);
}

async function endedTask(control: ControlHarness, token: string, id: string): Promise<Task> {
  return waitFor(`task ${id} to end`, async () => {
    const r = await ccall<GetTaskResponse>(control.clients.tasks, 'getTask', { id }, token);
    return r.task!.state !== TaskState.TASK_STATE_RUNNING ? r.task : false;
  }, 300_000);
}

async function completedBackup(control: ControlHarness, token: string, instanceId: string, name: string): Promise<Backup> {
  const created = await ccall<CreateBackupResponse>(control.clients.backups, 'createBackup', CreateBackupRequest.fromPartial({ instanceId, name, kind: BackupKind.BACKUP_KIND_FULL }), token);
  const b = await waitFor(`backup ${name} to finish`, async () => {
    const r = await ccall<GetBackupResponse>(control.clients.backups, 'getBackup', { id: created.backup!.id }, token);
    return r.backup!.status === BackupStatus.BACKUP_STATUS_COMPLETED || r.backup!.status === BackupStatus.BACKUP_STATUS_FAILED ? r.backup : false;
  }, 300_000);
  if (b.status !== BackupStatus.BACKUP_STATUS_COMPLETED) throw new Error(`backup ${name} failed: ${b.fault?.message}`);
  // The instance is ACTIVE again before the next backup may start.
  await settledInstance(control, token, instanceId);
  return b;
}

t.test('a create from a tampered or deleted backup fails after one Prepare, with the agent\'s message', async (t) => {
  const control = await startControl(t);
  const token = control.token('damaged');
  const { instances } = control.clients;

  const src = await ccall<CreateInstanceResponse>(instances, 'createInstance', CreateInstanceRequest.fromPartial({
    name: 'source',
    databases: [{ name: 'app' }],
    users: [{ name: 'app', host: '%', password: PASSWORD, databases: ['app'] }],
  }), token);
  const source = await settledInstance(control, token, src.instance!.id);
  t.equal(source.status, InstanceStatus.INSTANCE_STATUS_ACTIVE, 'the source instance is ACTIVE');
  const seed = await mariadb(source.port, 'app', PASSWORD, 'CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_1000', 'app');
  t.equal(seed.code, 0, seed.stderr);

  const tampered = await completedBackup(control, token, source.id, 'to-tamper');
  const deleted = await completedBackup(control, token, source.id, 'to-delete');
  const objectOf = (b: Backup): string => path.resolve(control.dataDir, 'backups', b.location);

  // One byte flipped in the middle of the stored object.
  const file = objectOf(tampered);
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(file, bytes);
  rmSync(objectOf(deleted));
  t.notOk(existsSync(objectOf(deleted)), 'the second backup\'s object is gone from the store');

  const cases: Array<[string, Backup, RegExp]> = [
    ['tampered', tampered, /altered|authentication|integrity|checksum|damaged/i],
    ['deleted', deleted, /missing|not found|does not exist|no such/i],
  ];
  for (const [what, backup, says] of cases) {
    await t.test(`restore from the ${what} backup`, async (t) => {
      const created = await ccall<CreateInstanceResponse>(instances, 'createInstance', CreateInstanceRequest.fromPartial({ name: `from-${what}`, backupId: backup.id }), token);
      const i = await settledInstance(control, token, created.instance!.id);
      t.equal(i.status, InstanceStatus.INSTANCE_STATUS_ERROR, 'the instance ends in ERROR');
      t.equal(i.fault?.step, 'prepare', 'its fault names the prepare step');
      t.match(i.fault?.message ?? '', says, `and carries the agent's message: ${i.fault?.message}`);
      const task = await endedTask(control, token, created.taskId);
      t.equal(task.state, TaskState.TASK_STATE_FAILED, 'the create task FAILED');
      const prepare = task.steps.find((s) => s.name === 'prepare');
      t.equal(prepare?.attempts, 1, 'after one Prepare attempt: the agent\'s answer does not change by asking again');
      t.equal(prepare?.state, 'failed', 'the prepare step is failed');
    });
  }
});
