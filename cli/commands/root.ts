// coffer root enable|show|disable: the datastore's superuser.
import { Command } from 'commander';
import type { EnableRootResponse, IsRootEnabledResponse } from '../../proto/gen/coffer/control/v1/accounts.js';
import { act } from '../context.js';
import { instanceId } from '../resolve.js';
import { readSecretFile } from '../secret-files.js';

export function rootCommand(): Command {
  const cmd = new Command('root').description('the datastore\'s root (superuser) account');

  cmd
    .command('enable')
    .description('enable root; without --password-file a password is generated and printed once, on stdout')
    .argument('<instance>', 'id or name')
    .option('--password-file <file>', 'use the password on the first line of FILE')
    .action(
      act<{ passwordFile?: string }>(async ({ conn, out }, args, o) => {
        const id = await instanceId(conn, args[0] as string);
        const password = o.passwordFile ? readSecretFile(o.passwordFile, '--password-file', (l) => out.note(l)) : '';
        const r = await conn.unary<EnableRootResponse>((md, opts, cb) => conn.accounts.enableRoot({ instanceId: id, password }, md, opts, cb));
        if (o.passwordFile) {
          out.done(`root (${r.name}) is enabled with the password from ${o.passwordFile}`, { instanceId: id, name: r.name });
          return;
        }
        // Shown once, on stdout (not argv, not a log): keep it somewhere safe.
        out.fields([['name', r.name], ['password', r.password]], { instanceId: id, name: r.name, password: r.password });
      }),
    );

  cmd
    .command('show')
    .description('say whether root is enabled')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        const r = await conn.unary<IsRootEnabledResponse>((md, opts, cb) => conn.accounts.isRootEnabled({ instanceId: id }, md, opts, cb));
        out.fields([['root enabled', r.enabled ? 'yes' : 'no']], { instanceId: id, enabled: r.enabled });
      }),
    );

  cmd
    .command('disable')
    .description('disable root')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        await conn.unary((md, opts, cb) => conn.accounts.disableRoot({ instanceId: id }, md, opts, cb));
        out.done('root is disabled', { instanceId: id, enabled: false });
      }),
    );
  return cmd;
}
