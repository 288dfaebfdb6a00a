// After a restore with appendonly on: Redis 7 loads only the append-only
// files when appendonly is on and ignores dump.rdb, so a restored RDB alone
// would start as an empty dataset. This runs a private redis-server (no TCP
// port, its own socket) with appendonly off, which loads dump.rdb; switches
// appendonly on live (Redis writes a new AOF base from the loaded dataset:
// the documented way from RDB to AOF); waits for that rewrite; shuts down.
// The real start then loads the AOF. The private server also proves the RDB
// loads, before the instance is reported ACTIVE.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../../lib/logger.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import { AgentError } from '../../../errors.js';
import { AdminClient, pingOnce, type AdminClientOptions } from '../admin-client.js';

export interface AofRebuildInput {
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** redis-server and its config, as the supervisor starts it. */
  readonly serverArgv: readonly string[];
  readonly uid: number;
  readonly gid: number;
  readonly cwd: string;
  /** Admin access to the private server's socket. */
  readonly admin: AdminClientOptions;
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
}

export async function rebuildAof(input: AofRebuildInput): Promise<void> {
  const { runner, log, admin, signal } = input;
  // Never a replica, whatever the config includes: it must not sync the restored data away.
  const argv = [...input.serverArgv, '--port', '0', '--unixsocket', admin.socket, '--unixsocketperm', '700', '--appendonly', 'no', '--replicaof', 'no', 'one'];
  const child = runner.spawn(argv, { uid: input.uid, gid: input.gid, cwd: input.cwd });
  let exited = false;
  void child.exited.then(() => (exited = true));
  const client = new AdminClient({ ...admin, log });
  const deadline = Date.now() + (input.timeoutMs ?? 3_600_000);
  const wait = async (what: string): Promise<void> => {
    if (exited) throw new AgentError('AGENT_ERR_INTEGRITY', `redis could not load the restored RDB (${what}): ${child.outputTail().split('\n').slice(-3).join(' | ')}`);
    if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `the restore was cancelled while ${what}`);
    if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', `the restore timed out while ${what}`);
    await sleep(100);
  };
  try {
    // LOADING answers no PING: this waits until the whole RDB is in memory.
    while (!(await pingOnce(admin))) await wait('loading the RDB');
    await client.open();
    await client.call('CONFIG', 'SET', 'appendonly', 'yes');
    for (;;) {
      const info = await client.info('persistence');
      if (info.aof_rewrite_in_progress === '0' && info.aof_rewrite_scheduled === '0') {
        if (info.aof_last_bgrewrite_status !== 'ok') throw new AgentError('AGENT_ERR_DATASTORE', 'redis could not write the append-only file from the restored RDB');
        break;
      }
      await wait('writing the append-only file');
    }
    // SHUTDOWN fsyncs the AOF; the server answers by closing the connection.
    await client.call('SHUTDOWN').catch(() => undefined);
    const timer = new AbortController();
    const exit = await Promise.race([child.exited, sleep(60_000, null, { signal: timer.signal }).catch(() => null)]);
    timer.abort(); // no timer left behind to hold the process
    if (!exit || exit.code !== 0) throw new AgentError('AGENT_ERR_DATASTORE', `the restore's private redis-server did not shut down cleanly: ${child.outputTail().split('\n').slice(-3).join(' | ')}`);
    log.info('append-only file rebuilt from the restored RDB');
  } finally {
    await client.close().catch(() => undefined);
    if (child.running) await child.stop(10_000);
  }
}
