// The source half of the redis-rdb backup: a fresh BGSAVE, then the dump
// file read through a descriptor opened after the save finished.
//
// Why BGSAVE and not the replication-protocol dump (redis-cli --rdb): it is
// the server's own persistence path and reports its outcome explicitly
// (rdb_last_bgsave_status); it takes no replica slot, is not delayed by
// repl-diskless-sync-delay, and is not subject to the replica output-buffer
// limits that cut a slow dump short under write load; and no extra process
// or credential is involved. The descriptor is opened once the save is
// done, so a later automatic save renaming a new dump.rdb into place cannot
// tear the stream: we keep reading the inode we opened. The cost is disk
// space for one RDB, which the save points need anyway. The file is read by
// `cat` from that descriptor, so the pipeline hands its output to zstd; a
// redis-rdb-acl backup's header (payload.ts) goes first: `cat header -`.
import { rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { ProcessRunner } from '../../../../lib/process-runner.js';
import type { BackupMetadata } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import { spawnToolSource } from '../../../../strategies/backup/tool-io.js';
import { AgentError } from '../../../errors.js';
import type { AdminClient } from '../admin-client.js';

// Another child (a save the server started itself, an AOF rewrite) is busy:
// ours must start after it, so retry.
const BUSY = /already in progress|Another child process is active|AOF log rewriting in progress/i;

export interface Snapshot {
  readonly stream: Readable;
  readonly done: Promise<Partial<BackupMetadata>>;
}

function checkAborted(signal: AbortSignal, what: string): void {
  if (signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', `the backup was cancelled while ${what}`);
}

/** Runs a BGSAVE of our own and waits until it has finished; throws if the save failed. */
export async function freshSave(client: AdminClient, signal: AbortSignal, pollMs = 100): Promise<Record<string, string>> {
  for (;;) {
    checkAborted(signal, 'waiting for another save to finish');
    try {
      await client.call('BGSAVE');
      break;
    } catch (err) {
      if (!BUSY.test((err as Error).message)) throw err;
      await sleep(pollMs);
    }
  }
  // The reply came after the fork: the save is in progress now, and no other
  // save can start until it ends.
  for (;;) {
    checkAborted(signal, 'the snapshot was being written');
    const info = await client.info('persistence');
    if (info.rdb_bgsave_in_progress === '0') {
      if (info.rdb_last_bgsave_status !== 'ok') {
        throw new AgentError('AGENT_ERR_DATASTORE', `redis could not write its snapshot (rdb_last_bgsave_status ${info.rdb_last_bgsave_status}); see the server log`);
      }
      return info;
    }
    await sleep(pollMs);
  }
}

/** What precedes the dump in the payload (payload.ts), written to a 0600 file in a root-only directory for `cat`. */
export interface SnapshotPrefix {
  readonly dir: string;
  /** Read just before the save: the bytes, and what to record in the metadata's extra beside the RDB's own figures. */
  readonly header: () => Promise<{ bytes: Buffer; extra: Record<string, string> }>;
}

export async function snapshot(client: AdminClient, runner: ProcessRunner, dumpFile: string, signal: AbortSignal, serverVersion: string, prefix?: SnapshotPrefix): Promise<Snapshot> {
  // Read before the save forks: every write up to this replication offset
  // is in the snapshot (a replica built from it starts at least there).
  const replOffset = (await client.info('replication')).master_repl_offset ?? '';
  const head = prefix ? await prefix.header() : null;
  const header = head?.bytes;
  const info = await freshSave(client, signal);
  const headerFile = prefix ? path.join(prefix.dir, `redis-backup-${randomUUID()}.head`) : '';
  const fh = await open(dumpFile, 'r');
  try {
    const size = (await fh.stat()).size;
    if (header) writeFileSync(headerFile, header, { mode: 0o600, flag: 'wx' });
    // `cat` reads the descriptor we opened (after the header file, if any),
    // so its stdout can be handed to zstd and the dump never passes through
    // the agent (lib/fd-handoff.ts).
    return spawnToolSource(runner, header ? ['cat', headerFile, '-'] : ['cat'], {
      stdin: fh,
      signal,
      finish: async () => {
        // cat shared our descriptor's offset: nothing left to read there, and
        // the same size, means it read the whole file we opened.
        const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, null);
        const now = (await fh.stat()).size;
        if (bytesRead !== 0 || now !== size) throw new AgentError('AGENT_ERR_DATASTORE', `the snapshot changed while it was read (${size} bytes when opened, ${now} after)`);
        return {
          rawBytes: size + (header?.length ?? 0),
          extra: { redis_version: serverVersion, rdb_bytes: String(size), rdb_saved_at: info.rdb_last_save_time ?? '', repl_offset: replOffset, ...(head?.extra ?? {}) },
        };
      },
      cleanup: async () => {
        if (headerFile) rmSync(headerFile, { force: true });
        await fh.close();
      },
    });
  } catch (err) {
    if (headerFile) rmSync(headerFile, { force: true });
    await fh.close();
    throw err;
  }
}
