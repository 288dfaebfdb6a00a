// The backup capability: which strategies exist and the checks common to
// both. A chain here is always one full backup: neither strategy has
// incrementals (PostgreSQL 15's base backups are full; incremental base
// backups arrive in 17).
import type { Readable } from 'node:stream';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { invalid } from '../../../errors.js';
import type { BackupCapability, BackupRequest, BackupSource } from '../../manager.js';
import { basebackupRestore, basebackupSource } from './basebackup.js';
import type { PgBackupContext } from './context.js';
import { dumpRestore, dumpSource } from './dump.js';

export const STRATEGIES = ['pg_basebackup', 'pg_dump'] as const;

export class PgBackup implements BackupCapability {
  readonly defaultStrategy = 'pg_basebackup';
  readonly strategies: readonly string[] = STRATEGIES;

  constructor(private readonly ctx: PgBackupContext) {}

  async source(req: BackupRequest): Promise<BackupSource> {
    if (req.type !== 'full') throw invalid(`${req.strategy || this.defaultStrategy} backups of ${this.ctx.datastore} are full only; an incremental needs PostgreSQL 17`);
    switch (req.strategy || this.defaultStrategy) {
      case 'pg_basebackup':
        return basebackupSource(this.ctx, req.signal);
      case 'pg_dump':
        return dumpSource(this.ctx, req.signal);
      default:
        throw invalid(`unknown backup strategy ${JSON.stringify(req.strategy.slice(0, 64))} for ${this.ctx.datastore}; choose one of ${STRATEGIES.join(', ')}`);
    }
  }

  async restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void> {
    if (chain.length !== 1) throw invalid(`a ${this.ctx.datastore} restore takes exactly one full backup, got a chain of ${chain.length}`);
    const meta = chain[0]!;
    if (meta.datastore && meta.datastore !== this.ctx.datastore) throw invalid(`backup ${meta.backupId} is of ${meta.datastore}, not ${this.ctx.datastore}`);
    // A physical backup only starts on the same major version.
    if (meta.strategy === 'pg_basebackup' && meta.datastoreVersion && meta.datastoreVersion !== this.ctx.version) {
      throw invalid(`backup ${meta.backupId} is of ${this.ctx.datastore} ${meta.datastoreVersion}; a base backup restores only on the same major version (${this.ctx.version})`);
    }
    switch (meta.strategy) {
      case 'pg_basebackup':
        return basebackupRestore(this.ctx, () => open(0), signal);
      case 'pg_dump':
        return dumpRestore(this.ctx, () => open(0), signal);
      default:
        throw invalid(`backup ${meta.backupId} has strategy ${JSON.stringify(meta.strategy)}, which ${this.ctx.datastore} cannot restore`);
    }
  }
}
