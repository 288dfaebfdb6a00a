// coffer log list|show|enable|disable|publish|discard|tail: an instance's
// guest logs through coffer-control (docs/logs.md). tail follows the live
// stream from the agent, where troveclient's `log tail` reads what was
// published to Swift.
import { Command } from 'commander';
import type { LogInfo } from '../../proto/gen/coffer/agent/v1/logs.js';
import type { ListLogsResponse, LogActionResponse, TailLogResponse } from '../../proto/gen/coffer/control/v1/logs.js';
import { act } from '../context.js';
import type { Output } from '../output.js';
import { instanceId } from '../resolve.js';

const row = (l: LogInfo): string[] => [l.name, l.type, l.status, String(l.publishedBytes), String(l.pendingBytes), l.container, l.prefix];

function showLog(out: Output, l: LogInfo): void {
  out.fields(
    [['name', l.name], ['type', l.type], ['status', l.status], ['size', String(l.sizeBytes)], ['published', String(l.publishedBytes)], ['pending', String(l.pendingBytes)], ['container', l.container], ['prefix', l.prefix], ['metafile', l.metafile]],
    l,
  );
}

type Action = 'show' | 'enable' | 'disable' | 'publish' | 'discard';
const DESCRIPTIONS: Record<Action, string> = {
  show: 'show one log: type, status, bytes published and pending',
  enable: 'turn a USER log on (general, slow_query; PostgreSQL: statement logging)',
  disable: 'turn a USER log off',
  publish: "copy what is new in a log to the deployment's object storage (container database_logs)",
  discard: 'delete what was published of a log',
};

export function logCommand(): Command {
  const cmd = new Command('log').description("an instance's guest logs: the datastore's and the agent's own");

  cmd
    .command('list')
    .description('list the logs of an instance')
    .argument('<instance>', 'id or name')
    .action(
      act(async ({ conn, out }, args) => {
        const id = await instanceId(conn, args[0] as string);
        const r = await conn.unary<ListLogsResponse>((md, o, cb) => conn.logs.listLogs({ instanceId: id }, md, o, cb));
        out.table(['NAME', 'TYPE', 'STATUS', 'PUBLISHED', 'PENDING', 'CONTAINER', 'PREFIX'], r.logs.map(row), r.logs, 'no logs');
      }),
    );

  for (const action of Object.keys(DESCRIPTIONS) as Action[]) {
    cmd
      .command(action)
      .description(DESCRIPTIONS[action])
      .argument('<instance>', 'id or name')
      .argument('<log>', 'log name (coffer log list shows them)')
      .action(
        act(async ({ conn, out }, args) => {
          const id = await instanceId(conn, args[0] as string);
          const req = { instanceId: id, name: args[1] as string, enable: action === 'enable', disable: action === 'disable', publish: action === 'publish', discard: action === 'discard' };
          const r = await conn.unary<LogActionResponse>((md, o, cb) => conn.logs.logAction(req, md, o, cb), action === 'publish' ? 15 * 60_000 : undefined);
          showLog(out, r.log!);
        }),
      );
  }

  cmd
    .command('tail')
    .description('print the last lines of a log, then follow it as it is written (Ctrl-C ends)')
    .argument('<instance>', 'id or name')
    .argument('<log>', 'log name')
    .option('--lines <n>', 'how many of the last lines first (default 50)', '50')
    .option('--no-follow', 'print the last lines and end')
    .action(
      act<{ lines: string; follow: boolean }>(async ({ conn, out }, args, o) => {
        const lines = Number(o.lines);
        if (!Number.isInteger(lines) || lines < 1) throw new Error(`--lines must be a whole number of 1 or more, got ${o.lines}`);
        const id = await instanceId(conn, args[0] as string);
        const stream = conn.stream<TailLogResponse>((md) => conn.logs.tailLog({ instanceId: id, name: args[1] as string, lines, follow: o.follow }, md));
        const stop = (): void => stream.cancel();
        process.once('SIGINT', stop);
        try {
          await new Promise<void>((resolve, reject) => {
            stream.on('data', (m: TailLogResponse) => {
              for (const l of m.lines) out.line(l);
            });
            stream.on('end', resolve);
            stream.on('error', (err: { code?: number }) => (err.code === 1 /* CANCELLED */ ? resolve() : reject(conn.error(err))));
          });
        } finally {
          process.off('SIGINT', stop);
        }
      }),
    );
  return cmd;
}
