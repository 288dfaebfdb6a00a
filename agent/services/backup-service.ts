import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../lib/logger.js';
import {
  BackupServiceService,
  type BackupServiceServer,
  type CreateBackupRequest,
  type CreateBackupResponse,
  type RestoreRequest,
  type RestoreResponse,
  type RestoreUploadRequest,
  type RestoreUploadResponse,
  type StreamBackupRequest,
  type StreamBackupResponse,
} from '../../proto/gen/coffer/agent/v1/backup.js';
import type { Agent } from '../agent.js';
import type { Backups, BackupProgress } from '../backup/backups.js';
import { AgentError, invalid, toServiceError } from '../errors.js';
import { STATE_TO_PROTO } from '../state.js';
import { serverStream, unary } from './handlers.js';
import { serializeStreamBackupResponse } from './stream-chunk-codec.js';

export function addBackupService(server: grpc.Server, agent: Agent, backups: Backups, log: Logger, uploadDir: string): void {
  /** Runs a long operation listed in GetStatus and cancellable by id. */
  const tracked = async <T>(kind: string, signal: AbortSignal, fn: (signal: AbortSignal, opId: string, setPhase: (p: string) => void) => Promise<T>) => {
    const op = agent.operations.begin(kind);
    const onAbort = () => op.controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort);
    try {
      return await fn(op.controller.signal, op.id, (p) => (op.phase = p));
    } finally {
      signal.removeEventListener('abort', onAbort);
      agent.operations.end(op);
    }
  };
  const progress = (p: BackupProgress, opId: string) => ({ ...p, percent: 0, operationId: opId });

  const impl: BackupServiceServer = {
    createBackup: serverStream<CreateBackupRequest, CreateBackupResponse>(log, 'CreateBackup', (req, write, signal) =>
      tracked('backup', signal, async (s, opId, setPhase) => {
        const artifact = await backups.create(req, (p) => {
          setPhase(p.phase);
          write({ progress: progress(p, opId) });
        }, s);
        write({ artifact });
      }),
    ),

    // Bytes go straight to the caller with backpressure: the pipeline waits
    // whenever grpc-js's write buffer is full.
    streamBackup: (call: grpc.ServerWritableStream<StreamBackupRequest, StreamBackupResponse>) => {
      const controller = new AbortController();
      call.on('cancelled', () => controller.abort(new Error('the client went away')));
      const out = new Writable({
        highWaterMark: 1024 * 1024,
        write(chunk: Buffer, _enc, cb) {
          if (call.cancelled) return cb(new AgentError('AGENT_ERR_CANCELLED', 'the client went away'));
          if (call.write({ chunk })) cb();
          else call.once('drain', () => cb());
        },
      });
      void tracked('stream-backup', controller.signal, (s, opId) =>
        backups.stream(call.request, out, (p) => call.write({ progress: progress(p, opId) }), s),
      ).then(
        (metadata) => {
          if (call.cancelled) return;
          call.write({ metadata });
          call.end();
        },
        (err: unknown) => {
          if (!call.cancelled) call.emit('error', toServiceError(err, log, 'StreamBackup'));
        },
      );
    },

    restore: serverStream<RestoreRequest, RestoreResponse>(log, 'Restore', (req, write, signal) =>
      tracked('restore', signal, async (s, opId, setPhase) => {
        const bytes = await backups.restore(req.chain, req.rewrappedKeys, (p) => {
          setPhase(p.phase);
          write({ progress: progress(p, opId) });
        }, s);
        write({ result: { state: STATE_TO_PROTO[agent.state.get().state], bytesRestored: bytes } });
      }),
    ),

    // Uploaded bytes can be read only once, and restore verifies before it
    // writes: spool them to a 0600 file under the agent's dir first.
    restoreUpload: (call: grpc.ServerReadableStream<RestoreUploadRequest, RestoreUploadResponse>, callback: grpc.sendUnaryData<RestoreUploadResponse>) => {
      const controller = new AbortController();
      call.on('cancelled', () => controller.abort(new Error('the client went away')));
      const spool = path.join(uploadDir, `${randomUUID()}.upload`);
      void (async () => {
        let metadata: RestoreUploadRequest['metadata'];
        await mkdir(uploadDir, { recursive: true, mode: 0o700 });
        const file = createWriteStream(spool, { mode: 0o600 });
        try {
          await pipeline(
            call,
            new Writable({
              objectMode: true,
              write(msg: RestoreUploadRequest, _enc, cb) {
                if (!metadata) {
                  if (!msg.metadata) return cb(invalid('the first RestoreUpload message must carry the backup metadata'));
                  metadata = msg.metadata;
                  return cb();
                }
                if (!msg.chunk) return cb(invalid('after the metadata, RestoreUpload messages carry chunks'));
                if (file.write(msg.chunk)) cb();
                else file.once('drain', () => cb());
              },
              final(cb) {
                file.end(cb);
              },
            }),
            { signal: controller.signal },
          );
          if (!metadata) throw invalid('nothing was uploaded');
          const bytes = await tracked('restore-upload', controller.signal, (s) =>
            backups.restore([{ location: { storage: 'upload', location: spool }, metadata: metadata! }], [], () => undefined, s, async () => createReadStream(spool)),
          );
          callback(null, { result: { state: STATE_TO_PROTO[agent.state.get().state], bytesRestored: bytes } });
        } catch (err) {
          file.destroy();
          callback(toServiceError(err, log, 'RestoreUpload') as grpc.ServiceError);
        } finally {
          await rm(spool, { force: true });
        }
      })();
    },

    deleteBackup: unary(log, 'DeleteBackup', async (req) => {
      if (!req.location) throw invalid('location is required');
      await backups.delete(req.location);
      return {};
    }),
  };
  server.addService(
    { ...BackupServiceService, streamBackup: { ...BackupServiceService.streamBackup, responseSerialize: serializeStreamBackupResponse } },
    impl,
  );
}
