// One backup wrapping key and one local backup directory for the whole
// deployment, under the control's data dir: agents get copies of the key
// (0600) and the directory in their injected config.
import path from 'node:path';
import { loadWrappingKey } from '../strategies/backup/key-file.js';

export function deploymentBackup(dataDir: string): { backupKeyFile: string; backupDir: string } {
  const backupKeyFile = path.join(dataDir, 'backup.key');
  // Created (random, 0600) on first use; refused if others can read it.
  loadWrappingKey(backupKeyFile);
  return { backupKeyFile, backupDir: path.join(dataDir, 'backups') };
}
