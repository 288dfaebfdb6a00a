// Prepare of a replica cloned through its source's endpoint
// (clone-endpoint.ts): in place of initialising a data directory, the copy
// is read from the source over TLS and restored by the datastore's own
// physical restore (the backup capability's: for MariaDB mbstream -x into a
// staging directory under the work root, --prepare, --move-back, chown),
// the same code a snapshot restore runs. It resolves only once the copy
// arrived whole (its trailer: the tool exited 0, every byte counted) and
// was restored; a failure leaves the staging directory removed and nothing
// started. Returns the position the copy ends at, where the replica starts.
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import { BackupMetadata, BackupType } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';
import { decompressStage } from '../../strategies/backup/compression.js';
import { AgentError } from '../errors.js';
import type { BackupCapability, CloneProgress } from '../managers/manager.js';
import { connectClone } from './clone-client.js';
import { DEFAULT_CLONE_COMPRESSION, type CloneCompression } from './clone-wire.js';

export interface EndpointCloneDeps {
  readonly backup: BackupCapability;
  /** The physical strategy the source's endpoint streams. */
  readonly strategy: string;
  /** The deployment CA the source's certificate is checked against. */
  readonly ca: string | null;
  /** Empties the (stopped) data directory: a failed earlier Prepare may have left files. */
  readonly emptyDataDir: () => Promise<void>;
  readonly runner: ProcessRunner;
  readonly log: Logger;
}

const PROGRESS_EVERY_MS = 1000;

export async function cloneThroughEndpoint(d: EndpointCloneDeps, source: SourceInfo, onProgress: (p: CloneProgress) => void, signal: AbortSignal): Promise<string> {
  if (!d.ca) throw new AgentError('AGENT_ERR_NOT_READY', 'cloning a source needs the deployment CA to verify it (the agent runs without --tls-ca)');
  await d.emptyDataDir();
  const compression = (source.cloneCompression || DEFAULT_CLONE_COMPRESSION) as CloneCompression;
  const started = Date.now();
  const conn = await connectClone({ host: source.host, port: source.clonePort ?? 0, ticket: source.cloneTicket ?? '', ca: d.ca, compression, signal });
  d.log.info({ source: `${source.host}:${source.clonePort}`, tool: conn.tool, compression }, 'cloning the source through its endpoint');
  const timer = setInterval(() => onProgress({ bytesDone: conn.payload.bytes, bytesTotal: 0 }), PROGRESS_EVERY_MS);
  try {
    let input: Readable = conn.payload;
    if (compression === 'zstd') {
      const stage = decompressStage('zstd', { runner: d.runner, log: d.log });
      const fed = pipeline([conn.payload, ...stage.tail]);
      fed.catch(() => undefined); // reported through the output's completion
      input = stage.open(fed).output;
    }
    const meta = BackupMetadata.fromPartial({ backupId: `clone of ${source.instanceId || source.host}`, strategy: d.strategy, type: BackupType.BACKUP_TYPE_FULL });
    await d.backup.restore([meta], async () => input, signal);
  } catch (err) {
    conn.close();
    throw err;
  } finally {
    clearInterval(timer);
  }
  const t = conn.payload.trailer;
  // The restore read its input to the end, which the decoder ends only after a good trailer.
  if (!t) throw new AgentError('AGENT_ERR_INTEGRITY', 'the clone ended without its trailer');
  onProgress({ bytesDone: conn.payload.bytes, bytesTotal: conn.payload.bytes });
  d.log.info({ bytes: t.bytes, position: t.position, ms: Date.now() - started }, 'cloned the source');
  return t.position;
}
