// Checks a restore chain before anything is touched: a full backup first,
// then increments each naming the one before it as parent, one strategy,
// this agent's datastore.
import { BackupType, type BackupArtifact, type BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import { invalid } from '../errors.js';

export function checkChain(chain: readonly BackupArtifact[], datastore: string): BackupMetadata[] {
  if (chain.length === 0) throw invalid('the restore chain is empty: give at least a full backup');
  const metas: BackupMetadata[] = [];
  chain.forEach((a, i) => {
    const m = a.metadata;
    if (!a.location?.location) throw invalid(`chain element ${i} has no storage location`);
    if (!m) throw invalid(`chain element ${i} (${a.location.location}) has no metadata`);
    if (m.datastore && m.datastore !== datastore) throw invalid(`backup ${m.backupId} is a ${m.datastore} backup; this instance runs ${datastore}`);
    if (!m.checksum) throw invalid(`backup ${m.backupId} has no recorded checksum: it cannot be verified`);
    if (i === 0) {
      if (m.type === BackupType.BACKUP_TYPE_INCREMENTAL) {
        throw invalid(`backup ${m.backupId} is incremental; its parent ${m.parentId || '(unknown)'} must come first in the chain`);
      }
    } else {
      const prev = metas[i - 1]!;
      if (m.type !== BackupType.BACKUP_TYPE_INCREMENTAL) throw invalid(`chain element ${i} (${m.backupId}) must be incremental`);
      if (m.parentId !== prev.backupId) {
        throw invalid(`backup ${m.backupId} has parent ${m.parentId}, but the chain gives ${prev.backupId} before it: a parent is missing`);
      }
      if (m.strategy !== metas[0]!.strategy) throw invalid(`backup ${m.backupId} uses ${m.strategy}; its chain uses ${metas[0]!.strategy}`);
    }
    metas.push(m);
  });
  return metas;
}
