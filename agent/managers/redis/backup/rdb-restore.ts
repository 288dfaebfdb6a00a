// The restore half of the Redis backups: the RDB goes into the emptied
// data directory as dump.rdb, owned by redis, only after redis-check-rdb has
// accepted it; then, if appendonly is on, the AOF is rebuilt from it
// (aof-rebuild.ts). The ACL file lives outside data/, so the instance keeps
// its own accounts; a redis-rdb-acl backup's tenant users are left beside
// the RDB (RESTORED_USERS) for the agent to apply once the server runs on
// the restored data (manager.ts, secure after a restore).
import { chmodSync, chownSync, createWriteStream, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { OsUser } from '../../../../lib/os-user.js';
import { AgentError, invalid } from '../../../errors.js';
import { checkRdb } from './rdb-check.js';

/** The RDB and the tenant's ACL users (payload.ts): what a backup takes now. */
export const STRATEGY = 'redis-rdb-acl';
/** A bare RDB: what backups were before the users travelled with them, and what a request for it still takes. */
export const RDB_ONLY = 'redis-rdb';
export const STRATEGIES = [STRATEGY, RDB_ONLY] as const;

/**
 * The backup's tenant users, in the restored data directory until the
 * agent has applied them (root-only, 0600; redis ignores the file). Inside
 * data/, so that a restore that fails after it was written throws it away
 * with the rest of the restored data.
 */
export const RESTORED_USERS = 'coffer-restored-users.acl';

/** The chain's one backup, and whether its payload carries users. Old metadata without a strategy is a bare RDB. */
export function checkChain(chain: readonly BackupMetadata[]): { withUsers: boolean } {
  if (chain.length !== 1) throw invalid(`redis backups are full snapshots: restore a chain of exactly one, not ${chain.length}`);
  const s = chain[0]!.strategy || RDB_ONLY;
  if (!(STRATEGIES as readonly string[]).includes(s)) throw invalid(`backup strategy ${JSON.stringify(s)} cannot be restored by redis (only ${STRATEGIES.join(', ')})`);
  return { withUsers: s === STRATEGY };
}

export interface PlaceRdbInput {
  readonly runner: ProcessRunner;
  readonly dataDir: string;
  readonly dumpFile: string;
  readonly owner: OsUser;
  readonly source: Readable;
  readonly signal: AbortSignal;
}

/** Writes, verifies and places the RDB. On any failure the data directory is left empty. */
export async function placeRdb(input: PlaceRdbInput): Promise<number> {
  const { dataDir, signal } = input;
  const leftovers = readdirSync(dataDir);
  if (leftovers.length) {
    throw new AgentError('AGENT_ERR_NOT_READY', `cannot restore: the data directory is not empty (${leftovers.slice(0, 3).join(', ')}); the agent empties it first`);
  }
  const partial = path.join(dataDir, 'restore.rdb.partial');
  let bytes = 0;
  const out = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  try {
    input.source.on('data', (c: Buffer) => (bytes += c.length));
    await pipeline(input.source, out, { signal });
    await checkRdb(input.runner, partial, signal);
    chownSync(partial, input.owner.uid, input.owner.gid);
    chmodSync(partial, 0o640);
    renameSync(partial, input.dumpFile);
    return bytes;
  } catch (err) {
    // A source that failed at once may find the file still being opened:
    // removed only once the stream has closed it, or it would appear after.
    out.destroy();
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    rmSync(partial, { force: true });
    input.source.destroy();
    throw err;
  }
}
