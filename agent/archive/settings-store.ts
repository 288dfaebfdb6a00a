// Archiving's settings, persisted in <agentDir>/archive.json so that an
// agent restarted (or killed) comes back archiving the same way, and read
// by the manager when it renders the datastore's configuration (the
// archive timeout). Absent means archiving is off.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import type { CompressionName } from '../../strategies/backup/compression.js';

export const DEFAULT_ARCHIVE_TIMEOUT_SECONDS = 60;
export const DEFAULT_ARCHIVE_PARALLELISM = 4;

export interface ArchiveSettingsFile {
  readonly version: 1;
  readonly enabled: boolean;
  readonly storage: StorageLocation;
  readonly archiveTimeoutSeconds: number;
  readonly parallelism: number;
  readonly compression: CompressionName;
  /** Days of archive the control keeps (its retention pass); 0 when none set. */
  readonly retentionDays?: number;
}

export const archiveSettingsFile = (agentDir: string): string => path.join(agentDir, 'archive.json');

export function readArchiveSettings(agentDir: string): ArchiveSettingsFile | undefined {
  const file = archiveSettingsFile(agentDir);
  if (!existsSync(file)) return undefined;
  const s = JSON.parse(readFileSync(file, 'utf8')) as ArchiveSettingsFile;
  return s.version === 1 ? s : undefined;
}

export function writeArchiveSettings(agentDir: string, s: ArchiveSettingsFile): void {
  const file = archiveSettingsFile(agentDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(s), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Whether archiving is on, as the datastore's configuration renders it. */
export function archivingEnabled(agentDir: string): boolean {
  return readArchiveSettings(agentDir)?.enabled ?? false;
}

/** The archive timeout the datastore's configuration carries: 0 (none) while archiving is off. */
export function archiveTimeoutOf(agentDir: string): number {
  const s = readArchiveSettings(agentDir);
  return s?.enabled ? s.archiveTimeoutSeconds : 0;
}
