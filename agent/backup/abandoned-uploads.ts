// What a killed agent's uploads left in the stores (a partial file, Swift
// segments, an S3 multipart upload) is removed when the agent starts again:
// a sink cleans up after itself, but not when its process dies with it.
// Only uploads begun before this start are touched, so a backup asked for
// while the sweep runs keeps its own.
import type { Logger } from '../../lib/logger.js';
import { instancePrefix } from '../../strategies/storage/backup-objects.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { CompiledBackupSettings } from './backup-settings.js';

export interface AbandonedUploadsInput {
  /** The agent's store of each name (cached, shared with its backups). */
  readonly store: (name: string) => ObjectStorage;
  readonly settings: CompiledBackupSettings;
  readonly instanceId: string;
  readonly log: Logger;
}

/** Sweeps every configured store under the instance's prefix; failures are logged, never thrown. */
export async function removeAbandonedUploads(input: AbandonedUploadsInput, startedBefore = Date.now()): Promise<void> {
  const prefix = instancePrefix(input.instanceId);
  for (const name of Object.keys(input.settings.storages)) {
    try {
      const removed = await input.store(name).removeAbandoned(prefix, { startedBefore });
      if (removed.length > 0) input.log.info({ storage: name, count: removed.length, first: removed.slice(0, 5) }, 'removed what an earlier run left of unfinished backups');
    } catch (err) {
      input.log.warn({ storage: name, err: (err as Error).message }, 'could not remove what an earlier run left of unfinished backups');
    }
  }
}
