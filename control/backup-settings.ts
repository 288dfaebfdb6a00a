// The deployment's local backup directory, under the control's data dir,
// handed to agents in their injected config. The wrapping keys are
// backup-keys.ts: each instance gets its own project's.
import path from 'node:path';

export function deploymentBackup(dataDir: string): { backupDir: string } {
  return { backupDir: path.join(dataDir, 'backups') };
}
