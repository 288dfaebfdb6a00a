// Whether a Galera joiner is receiving a full state transfer (SST) now:
// MariaDB's SST scripts (wsrep_sst_common) touch <datadir>/sst_in_progress
// as the joiner starts receiving and remove it once the copy is in place.
// One left by a run that was killed mid-transfer is older than the server
// started now, and does not count.
import { statSync } from 'node:fs';
import path from 'node:path';

export function sstInProgressSince(dataDir: string, startedAtMs: number): boolean {
  try {
    // mtime has a coarser clock on some filesystems: a second of slack.
    return statSync(path.join(dataDir, 'sst_in_progress')).mtimeMs >= startedAtMs - 1000;
  } catch {
    return false;
  }
}
