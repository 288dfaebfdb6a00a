// Restore chains: a full backup first, then increments each naming the one
// before it as parent. Found from the newest backup's stored metadata, and
// checked before anything is touched.
import { BackupType, type BackupArtifact, type BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import { invalid } from '../errors.js';
import { readSidecar } from './sidecar.js';
import type { StoreCache } from './store-cache.js';

/** One strategy, this agent's datastore, every element verifiable, parents in order. */
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

/** Fills in missing metadata from the sidecar stored beside each object. */
export async function resolveChain(stores: StoreCache, chain: readonly BackupArtifact[]): Promise<BackupArtifact[]> {
  const out: BackupArtifact[] = [];
  for (const a of chain) {
    if (a.metadata?.checksum || !a.location?.location) {
      out.push(a);
      continue;
    }
    out.push({ location: a.location, metadata: await readSidecar(stores.get(a.location.storage), a.location.location) });
  }
  return out;
}

/** Walks parent-location records back from the newest backup to its full base. */
export async function chainFromNewest(stores: StoreCache, loc: StorageLocation): Promise<BackupArtifact[]> {
  const chain: BackupArtifact[] = [];
  let cur: StorageLocation | undefined = loc;
  while (cur) {
    const metadata = await readSidecar(stores.get(cur.storage), cur.location);
    chain.unshift({ location: cur, metadata });
    if (metadata.type !== BackupType.BACKUP_TYPE_INCREMENTAL) break;
    const parent = metadata.extra['parent-location'];
    if (!parent || chain.length > 1000) throw invalid(`backup ${metadata.backupId} does not record where its parent ${metadata.parentId} is`);
    cur = { storage: metadata.extra['parent-storage'] || cur.storage, location: parent };
  }
  return chain;
}
