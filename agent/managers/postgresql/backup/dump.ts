// The logical strategy: pg_dumpall --roles-only for the roles (with their
// SCRAM verifiers, so users log in with their passwords after a restore),
// then pg_dump -Fc of every tenant database, framed into one stream
// (dump-archive.ts). Each database is dumped from its own snapshot: like
// pg_dumpall, the set is not one consistent point in time across
// databases; each database on its own is.
//
// Restore builds a new cluster beside the current one (initdb), restores the
// roles with psql and each database with pg_restore --create (which keeps
// the database's encoding, collation and grants from the dump) on a private
// temporary server, and swaps the directory in only when everything worked.
import { Readable } from 'node:stream';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { AgentError } from '../../../errors.js';
import type { BackupSource } from '../../manager.js';
import type { ChildHandle } from '../../../../lib/process-runner.js';
import { ADMIN_ROLE, RESERVED_DATABASES } from '../constants.js';
import { initdb } from '../datadir.js';
import { pgTool } from '../pg-bin.js';
import { secureCluster } from '../secure.js';
import { feedTool, toolFailure } from '../../../../strategies/backup/tool-io.js';
import { clientArgs, TOOL_ENV, type PgBackupContext } from './context.js';
import { MAGIC, PART_END, dataHeader, partHeader, readArchive, trailer } from './dump-archive.js';
import { dropStaging, freshStaging, requireStopped, swapIn } from './staging.js';
import { startTempServer, type TempServer } from './temp-server.js';

const ROLES_PART = 'roles.sql';
const DB_PREFIX = 'database:';

export async function dumpSource(ctx: PgBackupContext, signal: AbortSignal): Promise<BackupSource> {
  const rows = await ctx.sql.query(
    `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> ALL($1::name[]) ORDER BY datname`,
    [RESERVED_DATABASES],
  );
  const databases = rows.map((r) => String(r.datname));
  const client = clientArgs(ctx.layout.runDir, ctx.port);
  const parts: Array<{ name: string; argv: string[]; env: Record<string, string> }> = [
    { name: ROLES_PART, argv: [pgTool(ctx.version, 'pg_dumpall'), ...client, '--roles-only'], env: { ...TOOL_ENV } },
    // The database name goes through the environment, never as -d: libpq
    // would read a -d value containing "=" as a connection string, and
    // PGDATABASE is always taken literally.
    ...databases.map((db) => ({
      name: `${DB_PREFIX}${db}`,
      argv: [pgTool(ctx.version, 'pg_dump'), ...client, '--format=custom'],
      env: { ...TOOL_ENV, PGDATABASE: db },
    })),
  ];

  let current: ChildHandle | null = null;
  let settle!: { resolve: (m: Partial<BackupMetadata>) => void; reject: (e: unknown) => void };
  const done = new Promise<Partial<BackupMetadata>>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => undefined); // the caller awaits it; no unhandled rejection meanwhile

  async function* produce(): AsyncGenerator<Buffer> {
    let complete = false;
    try {
      yield MAGIC;
      for (const part of parts) {
        if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'the pg_dump backup was cancelled');
        yield partHeader(part.name);
        // An abort stops the tool's group (SIGTERM, then SIGKILL): the runner does it.
        const child = ctx.runner.spawn(part.argv, { stdout: 'pipe', logOutput: false, env: part.env, signal });
        current = child;
        for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
          yield dataHeader(chunk.length);
          yield chunk;
        }
        const exit = await child.exited;
        if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'the pg_dump backup was cancelled');
        if (exit.code !== 0) throw toolFailure(child, exit);
        current = null;
        yield PART_END;
      }
      yield trailer(parts.length);
      complete = true;
      settle.resolve({ extra: { format: 'coffer-pgdump-1', databases: databases.join(','), roles: 'pg_dumpall --roles-only' } });
    } catch (err) {
      settle.reject(err);
      throw err;
    } finally {
      // A reader that went away, or a failure: the tool must not go on.
      const c = current as ChildHandle | null;
      if (c?.running) void c.stop();
      if (!complete) settle.reject(new AgentError('AGENT_ERR_CANCELLED', 'the pg_dump backup stream was closed before its end'));
    }
  }
  return { stream: Readable.from(produce(), { objectMode: false }), done };
}

// A roles-only dump is a few hundred bytes per role; anything near this is
// not one.
const MAX_ROLES_SCRIPT = 64 * 1024 * 1024;

/**
 * pg_dumpall's roles script, without the one statement that cannot succeed:
 * CREATE ROLE for the agent's role, which the new cluster has from initdb
 * (pg_dumpall omits it only in binary-upgrade mode and expects psql to carry
 * on past the error). Everything else runs under ON_ERROR_STOP, so any other
 * failure stops the restore. pg_ roles are never dumped.
 */
async function rolesScript(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    size += c.length;
    if (size > MAX_ROLES_SCRIPT) throw new AgentError('AGENT_ERR_INTEGRITY', 'the roles part of the pg_dump backup is implausibly large');
    chunks.push(c);
  }
  const own = new Set([`CREATE ROLE ${ADMIN_ROLE};`, `CREATE ROLE "${ADMIN_ROLE}";`]);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  return Buffer.from(lines.filter((l) => !own.has(l.trim())).join('\n'), 'utf8');
}

export async function dumpRestore(ctx: PgBackupContext, open: () => Promise<Readable>, signal: AbortSignal): Promise<void> {
  const { layout, runner, version } = ctx;
  requireStopped(layout.dataDir);
  const pgUser = ctx.pgUser();
  const staging = freshStaging(layout, pgUser);
  let server: TempServer | null = null;
  try {
    await initdb(runner, version, staging, pgUser, signal);
    server = await startTempServer(ctx, staging, signal);
    const client = clientArgs(server.socketDir, ctx.port);
    let sawRoles = false;
    for await (const part of readArchive(await open())) {
      if (part.name === ROLES_PART && !sawRoles) {
        sawRoles = true;
        const input = Readable.from([await rolesScript(part.body)], { objectMode: false });
        const psql = [pgTool(version, 'psql'), ...client, '--dbname=postgres', '--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--file=-'];
        await feedTool(runner, psql, input, signal, { env: { ...TOOL_ENV }, stdout: 'pipe' });
      } else if (part.name.startsWith(DB_PREFIX) && sawRoles) {
        const input = Readable.from(part.body, { objectMode: false });
        // --create: the dump's own CREATE DATABASE (encoding, locale, owner,
        // grants); -d postgres is only where that statement is issued.
        const restore = [pgTool(version, 'pg_restore'), ...client, '--dbname=postgres', '--create', '--exit-on-error'];
        await feedTool(runner, restore, input, signal, { env: { ...TOOL_ENV }, stdout: 'pipe' });
      } else {
        throw new AgentError('AGENT_ERR_INTEGRITY', `the pg_dump backup holds an unexpected part ${JSON.stringify(part.name.slice(0, 80))}`);
      }
    }
    await secureCluster((sql, values) => server!.sql.query(sql, values));
    await server.stop();
    server = null;
    swapIn(layout, pgUser);
  } catch (err) {
    await server?.stop().catch(() => undefined);
    dropStaging(layout);
    throw err;
  }
}
