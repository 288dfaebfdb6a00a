// coffer backup create|list|show|delete. A backup is made by the instance's
// agent into the configured storage (local directory by default); create
// follows the backup task with a progress bar.
import { Command } from 'commander';
import {
  BackupKind,
  BackupStatus,
  type Backup,
  type CreateBackupResponse,
  type GetBackupResponse,
  type ListBackupsResponse,
} from '../../proto/gen/coffer/control/v1/backups.js';
import type { Connection } from '../connection.js';
import { act } from '../context.js';
import { failed, usage } from '../errors.js';
import { instanceId } from '../resolve.js';
import { followTask } from '../watch.js';
import { BACKUP_HEADERS, backupFields, backupJson, backupRow, backupStatus } from '../views.js';

async function getBackup(conn: Connection, id: string): Promise<Backup> {
  if (!id.trim()) throw usage('a backup id is required');
  return (await conn.unary<GetBackupResponse>((md, o, cb) => conn.backups.getBackup({ id }, md, o, cb))).backup!;
}

export function backupCommand(): Command {
  const cmd = new Command('backup').description('backups of instances');

  cmd
    .command('create')
    .description('back an instance up and follow the backup until it is COMPLETED')
    .argument('<instance>', 'id or name')
    .option('--name <name>', 'a name for the backup (default backup-<id>)')
    .option('--incremental', 'only the changes since the parent backup')
    .option('--parent <id>', 'the parent of an incremental backup (default: the instance\'s latest completed backup)')
    .option('--no-wait', 'return once the backup task has started')
    .action(
      act<{ name?: string; incremental?: boolean; parent?: string; wait: boolean }>(async (ctx, args, o) => {
        const { conn, out } = ctx;
        if (o.parent && !o.incremental) throw usage('--parent is for an --incremental backup');
        const id = await instanceId(conn, args[0] as string);
        const req = {
          instanceId: id,
          name: o.name ?? '',
          kind: o.incremental ? BackupKind.BACKUP_KIND_INCREMENTAL : BackupKind.BACKUP_KIND_FULL,
          parentId: o.parent ?? '',
        };
        const r = await conn.unary<CreateBackupResponse>((md, opts, cb) => conn.backups.createBackup(req, md, opts, cb));
        let b = r.backup!;
        if (o.wait) {
          await followTask(conn, ctx.display(), r.taskId, `backing up ${args[0] as string}`);
          b = await getBackup(conn, b.id);
        }
        out.fields(backupFields(b), backupJson(b));
        if (o.wait && b.status !== BackupStatus.BACKUP_STATUS_COMPLETED) {
          throw failed(`backup ${b.id} is ${backupStatus(b)}${b.fault ? `: step ${b.fault.step}: ${b.fault.message}` : ''}`);
        }
      }),
    );

  cmd
    .command('list')
    .description('list backups (of one instance with --instance)')
    .option('--instance <instance>', 'id or name')
    .action(
      act<{ instance?: string }>(async ({ conn, out }, _args, o) => {
        const only = o.instance ? await instanceId(conn, o.instance) : '';
        const all: Backup[] = [];
        let pageToken = '';
        do {
          const r = await conn.unary<ListBackupsResponse>((md, opts, cb) => conn.backups.listBackups({ instanceId: only, pageSize: 1000, pageToken }, md, opts, cb));
          all.push(...r.backups);
          pageToken = r.nextPageToken;
        } while (pageToken);
        out.table(BACKUP_HEADERS, all.map(backupRow), all.map(backupJson), 'no backups');
      }),
    );

  cmd
    .command('show')
    .description('show one backup')
    .argument('<backup>', 'backup id')
    .action(
      act(async ({ conn, out }, args) => {
        const b = await getBackup(conn, args[0] as string);
        out.fields(backupFields(b), backupJson(b));
      }),
    );

  cmd
    .command('delete')
    .description('delete a backup')
    .argument('<backup>', 'backup id')
    .action(
      act(async ({ conn, out }, args) => {
        const id = args[0] as string;
        if (!id.trim()) throw usage('a backup id is required');
        await conn.unary((md, opts, cb) => conn.backups.deleteBackup({ id }, md, opts, cb));
        out.done(`deleted backup ${id}`, { id, deleted: true });
      }),
    );
  return cmd;
}
