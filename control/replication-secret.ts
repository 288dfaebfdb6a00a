// Replication and cluster secrets (docs/replication.md, "Names and
// secrets"; docs/clusters.md, "Secrets"): derived,
// never stored. Each is HMAC-SHA256, under a 0600 key file in the control's
// data directory (created once), of the replica id (a per-replica account:
// MariaDB/MySQL) or of "deployment" (one account for every replica:
// PostgreSQL, Redis). Nothing goes into SQLite or task data: a re-point
// derives the same secret again, and a scrubbed task holds none.
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Who a secret belongs to: one replica's account, or the deployment's shared one. */
export type SecretScope = 'replica' | 'deployment';

const KEY_FILE = 'replication.key';
const KEY_BYTES = 32;

export class ReplicationSecrets {
  private constructor(private readonly key: Buffer) {}

  /** Opens the key under `dataDir`, creating it (0600) on first use. */
  static open(dataDir: string): ReplicationSecrets {
    const file = path.join(dataDir, KEY_FILE);
    try {
      // 'wx': created once; a second control start (or a race) reads the first key.
      writeFileSync(file, randomBytes(KEY_BYTES).toString('hex'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`creating the replication key ${file} failed: ${(err as Error).message}`, { cause: err });
    }
    const mode = statSync(file).mode & 0o777;
    if (mode !== 0o600) chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== KEY_BYTES) throw new Error(`the replication key ${file} is damaged (expected ${KEY_BYTES} bytes of hex)`);
    return new ReplicationSecrets(key);
  }

  /** The secret of `replicaId`'s account (scope replica) or of the deployment's. Hex: safe in every datastore's syntax. */
  secretFor(scope: SecretScope, replicaId: string): string {
    const subject = scope === 'replica' ? `replica:${replicaId}` : 'deployment';
    return this.derive(subject);
  }

  /**
   * A cluster's secret by the strategy's name for it (galera: "sst"), the
   * same on every member: HMAC of the cluster id and that name, so every
   * step of a retried workflow derives it again.
   */
  clusterSecret(clusterId: string, name: string): string {
    return this.derive(`cluster:${clusterId}:${name}`);
  }

  private derive(subject: string): string {
    return createHmac('sha256', this.key).update(subject).digest('hex');
  }
}
