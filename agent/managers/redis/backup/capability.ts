// The BackupCapability of Redis: full snapshots. redis-rdb-acl (the
// default) carries the RDB and the tenant's ACL users (payload.ts), so a
// restored instance or a replica has the source's users as well as its
// keys; redis-rdb is a bare RDB (older backups, and on request), whose
// restore keeps the instance's users. The agent wraps the source in its
// pipeline (compression, encryption, checksum, storage) and hands restore()
// verified raw bytes.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { pipeline as pipelineCb } from 'node:stream';
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
import { checkChain, placeRdb, RESTORED_USERS, STRATEGIES, STRATEGY } from './rdb-restore.js';
import { snapshot } from './rdb-snapshot.js';
import { PayloadSplitter, payloadHeader } from './payload.js';
import { parseTenantAcl, readTenantAcl } from '../tenant-acl.js';

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
  /** A root-only directory for the backup header `cat` reads. */
  readonly workDir: string;
}

export class RedisBackup implements BackupCapability {
  readonly defaultStrategy = STRATEGY;
  readonly strategies = STRATEGIES;

  constructor(private readonly deps: RedisBackupDeps) {}

  validateRestore(chain: readonly BackupMetadata[]): void {
    checkChain(chain);
  }

  async source(req: BackupRequest): Promise<BackupSource> {
    const strategy = req.strategy || STRATEGY;
    if (!(STRATEGIES as readonly string[]).includes(strategy)) throw invalid(`unknown backup strategy ${JSON.stringify(req.strategy)} for redis; use ${STRATEGIES.join(' or ')}`);
    if (req.type !== 'full') throw invalid(`${strategy} backups are full snapshots; incremental backups are not possible`);
    const d = this.deps;
    const prefix =
      strategy === STRATEGY
        ? {
            dir: d.workDir,
            header: async () => {
              const acl = await readTenantAcl(d.client);
              return { bytes: payloadHeader(acl), extra: { acl_users: String(acl.split('\n').length - 1) } };
            },
          }
        : undefined;
    return snapshot(d.client, d.runner, d.dumpFile, req.signal, await d.serverVersion(), prefix);
  }

  async restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void> {
    const d = this.deps;
    const { withUsers } = checkChain(chain);
    if (await pingOnce(d.admin())) throw new AgentError('AGENT_ERR_NOT_READY', 'cannot restore while redis is running; stop it first');
    const owner = d.redisUser();
    const raw = await open(0);
    let source: Readable = raw;
    let splitter: PayloadSplitter | null = null;
    if (withUsers) {
      splitter = new PayloadSplitter();
      source = pipelineCb(raw, splitter, () => undefined);
    }
    await placeRdb({ runner: d.runner, dataDir: d.dataDir, dumpFile: d.dumpFile, owner, source, signal });
    try {
      if (splitter) {
        // Checked now: a backup whose users cannot be restored fails before the server starts.
        const acl = await splitter.acl;
        const users = parseTenantAcl(acl);
        writeFileSync(path.join(d.dataDir, RESTORED_USERS), acl, { mode: 0o600, flag: 'wx' });
        d.log.info({ users: users.length }, "the backup's tenant users will be restored once redis runs");
      }
      if (!d.appendOnly()) return;
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
