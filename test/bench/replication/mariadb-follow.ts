// A PROTOTYPE, measured in the bench only: the snapshot stays a stored
// backup (GetReplicaSnapshot on the source agent, into the deployment's
// local storage, exactly as Coffer does it), but the replica's restore
// FOLLOWS the object while the source still writes it, instead of waiting
// for the stored object and reading it afterwards: the local store's
// hidden partial file is read as it grows, through the agent's own restore
// stages (the frame decryptor, zstd -d; a sha256 beside them) into
// `mbstream -x`; the end is the object's final frame, and the sha256 is
// checked against the snapshot's recorded checksum once it is committed.
// Then prepare, start and CHANGE MASTER as by hand.
//
// What it leaves out, and the docs say so beside its figure: the replica
// agent (its start, which the control would run while the source backs
// up, and its Prepare steps around the restore).
import { readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { extractStored } from './extract-stored.js';
import type { AgentProcess } from '../../support/agent.js';
import { collect } from '../../support/agent.js';
import type { GetReplicaSnapshotResponse } from '../../../proto/gen/coffer/agent/v1/replication.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../proto/gen/coffer/agent/v1/backup.js';
import { backupObjectKey } from '../../../strategies/storage/backup-objects.js';

export interface FollowInput {
  readonly source: AgentProcess;
  readonly sourceInstanceId: string;
  readonly backupDir: string;
  readonly wrappingKey: Buffer;
  readonly replicaId: string;
  readonly password: string;
  /**
   * zstd: the snapshot exactly as GetReplicaSnapshot takes it. none: the
   * same backup through CreateBackup with compression none (what a
   * snapshot that is only ever read once, next door, might choose); the
   * replica's access is then not made (the by-hand account is used).
   */
  readonly compression: 'zstd' | 'none';
}

export interface FollowResult {
  readonly artifact: BackupArtifact;
  readonly storedBytes: number;
  /** Seconds from the start until the source's snapshot was stored. */
  readonly snapshotSeconds: number;
}

/** Reads a file that another process is still appending to, until `done()` says it is whole and its end is reached. */
function followFile(file: () => string | undefined, done: () => boolean): Readable {
  return Readable.from(
    (async function* () {
      let name: string | undefined;
      while (!(name = file())) await sleep(10);
      const fh = await open(name, 'r');
      try {
        const buf = Buffer.allocUnsafe(1024 * 1024);
        for (;;) {
          const finished = done();
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead > 0) {
            yield Buffer.from(buf.subarray(0, bytesRead));
            continue;
          }
          // Whole once the store committed it and every byte was read.
          if (finished) return;
          await sleep(5);
        }
      } finally {
        await fh.close();
      }
    })(),
    { objectMode: false },
  );
}

export async function followSnapshotInto(input: FollowInput, dir: string): Promise<FollowResult> {
  const t0 = Date.now();
  const backupId = `replica-snapshot-${input.replicaId}`;
  const key = backupObjectKey(input.sourceInstanceId, backupId);
  const final = path.join(input.backupDir, key);
  const prefix = `.${path.basename(final)}.partial-`;
  let snapshot: BackupArtifact | undefined;
  let snapshotSeconds = 0;
  const taken: Promise<BackupArtifact | undefined> =
    input.compression === 'zstd'
      ? collect<GetReplicaSnapshotResponse>(
          input.source.clients.replication.getReplicaSnapshot({ replicas: [{ replicaId: input.replicaId, password: input.password }], backupId, parent: undefined, storage: undefined }),
        ).then((events) => events.at(-1)?.snapshot?.artifact)
      : collect<CreateBackupResponse>(
          input.source.clients.backup.createBackup({ backupId, type: BackupType.BACKUP_TYPE_FULL, strategy: 'mariabackup', parent: undefined, storage: undefined, compression: 'none' }),
        ).then((events) => events.at(-1)?.artifact);
  const snapped = taken.then((a) => {
    snapshot = a;
    snapshotSeconds = (Date.now() - t0) / 1000;
  });
  snapped.catch(() => undefined);
  const partialName = (): string | undefined => {
    if (snapshot) return final;
    try {
      const hit = readdirSync(path.dirname(final)).find((n) => n.startsWith(prefix) && !n.includes('.meta.json'));
      return hit ? path.join(path.dirname(final), hit) : undefined;
    } catch {
      return undefined;
    }
  };
  const { storedBytes, sha256 } = await extractStored(followFile(partialName, () => snapshot !== undefined), { wrappingKey: input.wrappingKey, compression: input.compression, dir, name: 'bench-follow' });
  await snapped;
  if (!snapshot?.metadata) throw new Error('the snapshot ended without its artifact');
  if (sha256 !== snapshot.metadata.checksum) throw new Error('the followed bytes do not match the snapshot checksum');
  return { artifact: snapshot, storedBytes, snapshotSeconds };
}
