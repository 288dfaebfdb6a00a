// The contract between a datastore's backup tool driver and the pipeline: a
// driver (agent/managers/<datastore>/backup/) starts its tool and hands over
// the raw bytes and what to record; the pipeline (pipeline.ts) compresses,
// encrypts, checksums and stores them without knowing the datastore.
import type { Readable } from 'node:stream';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';

/** What a backup source (the datastore's own tool) produced. */
export interface BackupSource {
  /** The raw backup bytes (xbstream, tar, custom dump, RDB), before compression and encryption. */
  readonly stream: Readable;
  /**
   * Settles when the tool has exited: resolves with what the strategy records
   * in the metadata (LSNs, GTID position, WAL positions, extra), rejects with
   * the tool's own reason. The backup succeeds only if this resolves.
   */
  readonly done: Promise<Partial<BackupMetadata>>;
}

/** What a backup is asked to be. */
export interface BackupRequest {
  readonly strategy: string;
  /** 'full' or 'incremental'. */
  readonly type: 'full' | 'incremental';
  /** For an incremental: the parent's metadata. */
  readonly parent?: BackupMetadata;
  readonly signal: AbortSignal;
}
