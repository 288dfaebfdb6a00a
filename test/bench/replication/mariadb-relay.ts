// A PROTOTYPE, measured in the bench only: the one-pass snapshot the
// replica-creation target would need (docs/performance.md, "one pass"). No
// stored backup: the source agent's real StreamBackup (mariadb-backup ->
// compression -> AES-256-GCM frames, over mutual-TLS gRPC) is read by this
// process, standing where the control would relay it, and restored while
// it arrives with the agent's own restore stages (strategies/backup: the
// frame decryptor, zstd -d; a sha256 beside them) into `mbstream -x`; then what
// the agent's restore does after extraction (prepare; --move-back is a
// rename) and the replica is started and attached as by hand.
//
// What it leaves out, and the docs say so beside its figure: the replica
// agent's own start (which the control would run while the source
// streams) and its Prepare steps around the restore. The relay is one gRPC
// hop here; through the control it would be two.
import { Readable } from 'node:stream';
import { parseCompression } from '../../../strategies/backup/compression.js';
import { extractStored } from './extract-stored.js';
import type { AgentProcess } from '../../support/agent.js';
import { BackupType, type StreamBackupResponse, type BackupMetadata } from '../../../proto/gen/coffer/agent/v1/backup.js';

/** What one relayed snapshot moved and how. */
export interface RelayResult {
  readonly storedBytes: number;
  readonly metadata: BackupMetadata;
}

/**
 * Streams a full backup from `source` (StreamBackup, `compression` as
 * asked) and extracts it with mbstream into `dir`, in one pass: every frame
 * authenticated before its bytes go on, the final frame and the sha256
 * the source reports last checked at the end.
 */
export async function relaySnapshotInto(source: AgentProcess, wrappingKey: Buffer, compression: 'zstd' | 'none', dir: string): Promise<RelayResult> {
  const call = source.clients.backup.streamBackup({ backupId: '', type: BackupType.BACKUP_TYPE_FULL, strategy: 'mariabackup', parent: undefined, compression });
  let metadata: BackupMetadata | undefined;
  const chunks = Readable.from(
    (async function* () {
      for await (const m of call as AsyncIterable<StreamBackupResponse>) {
        if (m.chunk) yield m.chunk;
        else if (m.metadata) metadata = m.metadata;
      }
    })(),
    { objectMode: false },
  );
  const { storedBytes, sha256 } = await extractStored(chunks, { wrappingKey, compression: parseCompression(compression), dir, name: 'bench-relay' });
  if (!metadata) throw new Error('StreamBackup ended without its metadata');
  if (sha256 !== metadata.checksum) throw new Error('the relayed bytes do not match the sha256 the source reported');
  if (storedBytes !== metadata.storedBytes) throw new Error(`relayed ${storedBytes} bytes, the source reported ${metadata.storedBytes}`);
  return { storedBytes, metadata };
}
