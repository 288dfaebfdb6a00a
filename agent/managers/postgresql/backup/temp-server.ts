// A private postmaster for a logical restore: started on the staging data
// directory from the instance's own postgresql.conf, but with no TCP
// listener and its socket in a directory only root and postgres can enter,
// so no client can see a half-restored cluster. Stopped with a fast
// shutdown (SIGINT), which checkpoints, before the directory is swapped in.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, type ChildHandle } from '../../../../lib/process-runner.js';
import { AgentError } from '../../../errors.js';
import { makeOwnedDir } from '../datadir.js';
import { pgTool } from '../pg-bin.js';
import { PgClient } from '../pg-client.js';
import { ADMIN_ROLE } from '../constants.js';
import type { PgBackupContext } from './context.js';

export interface TempServer {
  readonly socketDir: string;
  readonly sql: PgClient;
  stop(): Promise<void>;
}

export async function startTempServer(ctx: PgBackupContext, dataDir: string, signal: AbortSignal): Promise<TempServer> {
  const pgUser = ctx.pgUser();
  const socketDir = ctx.layout.privateRunDir;
  rmSync(socketDir, { recursive: true, force: true });
  makeOwnedDir(socketDir, 0o700, pgUser);
  const child: ChildHandle = ctx.runner.spawn(
    [
      pgTool(ctx.version, 'postgres'),
      `--config-file=${ctx.confFile}`,
      '-c', `data_directory=${dataDir}`,
      '-c', 'listen_addresses=',
      '-c', `unix_socket_directories=${socketDir}`,
      // The agent writes the restore; a fence (replication/fence.ts) is
      // about clients, which cannot reach this server.
      '-c', 'default_transaction_read_only=off',
    ],
    { uid: pgUser.uid, gid: pgUser.gid, cwd: ctx.layout.baseDir, logger: ctx.log },
  );
  const sql = new PgClient({ socketDir, port: ctx.port, user: ADMIN_ROLE, log: ctx.log });
  const stop = async (): Promise<void> => {
    await sql.close();
    if (child.running) {
      const exit = await child.stop(60_000, 'SIGINT');
      if (exit.code !== 0) ctx.log.warn({ exit }, 'temporary restore server did not stop cleanly');
    }
    rmSync(socketDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (!child.running) {
      const exit = await child.exited;
      await stop();
      throw new AgentError('AGENT_ERR_DATASTORE', `the temporary restore server ${describeExit(exit)}: ${child.outputTail()}`);
    }
    if (signal.aborted || Date.now() > deadline) {
      await stop();
      throw new AgentError(signal.aborted ? 'AGENT_ERR_CANCELLED' : 'AGENT_ERR_TIMEOUT', 'the temporary restore server did not start');
    }
    try {
      await sql.query('SELECT 1');
      return { socketDir, sql, stop };
    } catch {
      await sleep(200);
    }
  }
}
