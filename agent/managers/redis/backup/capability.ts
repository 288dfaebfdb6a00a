// The BackupCapability of Redis: one strategy, redis-rdb (full snapshots).
// The agent wraps the source in its pipeline (compression, encryption,
// checksum, storage) and hands restore() verified raw bytes.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { BackupCapability, BackupRequest, BackupSource } from '../../manager.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import type { Readable } from 'node:stream';
import type { Logger } from '../../../../lib/logger.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { OsUser } from '../../../../lib/os-user.js';
import { AgentError, invalid } from '../../../errors.js';
import { pingOnce, type AdminClient, type AdminClientOptions } from '../admin-client.js';
import { rebuildAof } from './aof-rebuild.js';
import { checkChain, placeRdb, STRATEGY } from './rdb-restore.js';
import { snapshot } from './rdb-snapshot.js';

export interface RedisBackupDeps {
  readonly client: AdminClient;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly dataDir: string;
  readonly dumpFile: string;
  readonly redisUser: () => OsUser;
  /** redis-server and its config file. */
  readonly serverArgv: () => readonly string[];
  /** Admin access to the running server's socket, and to a private one at `socket`. */
  readonly admin: (socket?: string) => AdminClientOptions;
  readonly restoreSocket: string;
  /** appendonly as the rendered config has it. */
  readonly appendOnly: () => boolean;
  readonly serverVersion: () => Promise<string>;
}

export class RedisBackup implements BackupCapability {
  readonly defaultStrategy = STRATEGY;
  readonly strategies = [STRATEGY] as const;

  constructor(private readonly deps: RedisBackupDeps) {}

  async source(req: BackupRequest): Promise<BackupSource> {
    if (req.strategy && req.strategy !== STRATEGY) throw invalid(`unknown backup strategy ${JSON.stringify(req.strategy)} for redis; use ${STRATEGY}`);
    if (req.type !== 'full') throw invalid(`${STRATEGY} backups are full snapshots; incremental backups are not possible`);
    return snapshot(this.deps.client, this.deps.runner, this.deps.dumpFile, req.signal, await this.deps.serverVersion());
  }

  async restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void> {
    const d = this.deps;
    checkChain(chain);
    if (await pingOnce(d.admin())) throw new AgentError('AGENT_ERR_NOT_READY', 'cannot restore while redis is running; stop it first');
    const owner = d.redisUser();
    await placeRdb({ runner: d.runner, dataDir: d.dataDir, dumpFile: d.dumpFile, owner, source: await open(0), signal });
    if (!d.appendOnly()) return;
    try {
      await rebuildAof({
        runner: d.runner,
        log: d.log,
        serverArgv: d.serverArgv(),
        uid: owner.uid,
        gid: owner.gid,
        cwd: d.dataDir,
        admin: d.admin(d.restoreSocket),
        signal,
      });
    } catch (err) {
      // Leave the data directory as the agent gave it: empty.
      for (const e of readdirSync(d.dataDir)) rmSync(path.join(d.dataDir, e), { recursive: true, force: true });
      throw err;
    }
  }
}
