// The backup wrapping keys the control holds (docs/backup-format.md "Keys").
//
// <data-dir>/backup-master.key   0600  the master key: never leaves the control
// <data-dir>/backup.key          0600  the deployment-wide key of backups taken
//                                      before per-project keys (kept, never
//                                      created anew, never handed to a guest)
//
// Each project's wrapping key is derived from the master key,
// HKDF-SHA256(ikm = master, salt = empty, info = PROJECT_KEY_INFO ‖ project
// id), and an instance is given only its own project's key: a guest
// compromised to root can unwrap its project's backups and no other's.
// A backup of the old key is restored by rewrapping its data key for the
// restoring project's key here (legacyRewrap), so no guest is ever given the
// old key.
import { hkdfSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadWrappingKey } from '../strategies/backup/key-file.js';
import { KEY_BYTES, keyIdOf, rewrapDataKey } from '../strategies/backup/key-wrap.js';
import type { RewrappedKey } from '../proto/gen/coffer/agent/v1/common.js';

/** HKDF's info, before the project id: fixed, versioned (a new derivation is v2). */
export const PROJECT_KEY_INFO = 'coffer backup project wrapping key v1\0';

/** A project's wrapping key from the master key. Deterministic: the same project always gets the same key. */
export function deriveProjectKey(master: Buffer, project: string): Buffer {
  if (!project) throw new TypeError('a project id is required to derive its backup wrapping key');
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), Buffer.concat([Buffer.from(PROJECT_KEY_INFO), Buffer.from(project, 'utf8')]), KEY_BYTES));
}

/** What a restore needs rewrapped: one chain element's recorded encryption. */
export interface ChainKey {
  readonly backupId: string;
  /** The project the control recorded the backup in. */
  readonly project: string;
  readonly keyId: string;
  readonly wrappedKey: Buffer;
}

export class BackupKeys {
  readonly masterFile: string;
  readonly legacyFile: string;

  constructor(dataDir: string) {
    this.masterFile = path.join(dataDir, 'backup-master.key');
    this.legacyFile = path.join(dataDir, 'backup.key');
  }

  /** At control start: the master key exists (created now on a new deployment) and is readable by the control only. */
  ensureMaster(): void {
    this.master();
  }

  /** The master key: created (random, 0600) on first use, refused if others can read it. */
  private master(): Buffer {
    return loadWrappingKey(this.masterFile);
  }

  projectKey(project: string): Buffer {
    return deriveProjectKey(this.master(), project);
  }

  projectKeyId(project: string): string {
    return keyIdOf(this.projectKey(project));
  }

  /** The deployment-wide key of older backups, when this deployment has one. */
  private legacy(): Buffer | undefined {
    return existsSync(this.legacyFile) ? loadWrappingKey(this.legacyFile) : undefined;
  }

  legacyKeyId(): string | undefined {
    const k = this.legacy();
    return k && keyIdOf(k);
  }

  /**
   * The project's key as a 0600 file for a compute driver to hand on
   * (control/compute/driver.ts backupKeyFile), beside the instance's
   * certificates. Written each time: the same project, the same bytes.
   */
  writeProjectKeyFile(project: string, dir: string): { file: string; keyId: string } {
    const key = this.projectKey(project);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'backup.key');
    writeFileSync(file, key.toString('hex') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    return { file, keyId: keyIdOf(key) };
  }

  /**
   * Why a backup an agent reported cannot be recorded, or null: its key id
   * must be the key's its instance was given (recorded at inject-config;
   * none recorded: the deployment-wide key, given before per-project keys).
   * Otherwise a guest could make the control rewrap another's data key
   * (legacyRewraps) by reporting it as its own.
   */
  reportedKeyProblem(instance: { id: string; backup_key_id: string | null }, backupId: string, keyId: string | undefined): string | null {
    const given = instance.backup_key_id ?? this.legacyKeyId();
    if (!keyId || !given || keyId === given) return null;
    return `the agent wrapped backup ${backupId} with key ${keyId}, not with key ${given} that instance ${instance.id} was given`;
  }

  /**
   * Data keys of a chain's backups taken with the deployment-wide key,
   * wrapped again for `project`'s key, so that an instance of that project
   * restores them without ever holding the old key. Only a backup the
   * control recorded in that same project is rewrapped: another project's
   * backup stays unreadable, as if it were wrapped by its project's key.
   */
  legacyRewraps(project: string, chain: readonly ChainKey[]): RewrappedKey[] {
    const legacyKey = this.legacy();
    if (!legacyKey) return [];
    const legacyId = keyIdOf(legacyKey);
    const to = this.projectKey(project);
    return chain
      .filter((e) => e.keyId === legacyId && e.project === project)
      .map((e) => ({ backupId: e.backupId, ...rewrapDataKey(e.wrappedKey, legacyKey, legacyId, to), originalKeyId: legacyId }));
  }
}
