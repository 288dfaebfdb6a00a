// Restore to a point, the agent's core (issue 18, docs/pitr.md): Prepare
// from a base backup plus a target. Everything that can be refused is
// refused before anything starts: no archive capability, a malformed
// target, a target outside what the archive covers from the backup's end
// (the message names the earliest and latest restorable points). Then
// Prepare restores the base backup as usual and, with the data in place,
// the replay runs: the datastore configured to replay to the target
// (before its first start), the archived files served to it through the
// local socket (replay-session.ts, each verified before a byte is given),
// and the agent waiting until the target is reached. An integrity failure
// or the datastore's death during the replay stops the restore with that
// reason; the data set aside is put back (lifecycle/restore-swap.ts).
import { readFileSync, existsSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CofferError } from '../../lib/coded-error.js';
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { RestoreTarget } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import type { RestoredPoint } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { archivePrefixBesideBackup, keyOfLocation } from '../../strategies/archive/layout.js';
import type { ObjectStorage } from '../../strategies/storage/storage.js';
import type { ArchiveCapability, PointTarget, ReachedPoint } from './archive-datastore.js';
import { readCatalogue } from './catalogue.js';
import { planRestore, type RestorePlan } from './planner.js';
import { ReplaySession } from './replay-session.js';

/** The target as the core sees it; INVALID_ARGUMENT for an empty or malformed one. */
export function pointTargetOf(t: RestoreTarget, cap: ArchiveCapability): PointTarget {
  if (t.timeUnixSeconds !== undefined) {
    if (!Number.isSafeInteger(t.timeUnixSeconds) || t.timeUnixSeconds <= 0) throw new CofferError('INVALID_ARGUMENT', `restore target time ${t.timeUnixSeconds} is not a time (Unix seconds)`);
    return { kind: 'time', unixSeconds: t.timeUnixSeconds };
  }
  const position = t.lsn ?? t.gtid;
  if (position === undefined) throw new CofferError('INVALID_ARGUMENT', 'the restore target is empty: give a time, an LSN or a GTID');
  const wanted = cap.table.kind === 'wal' ? 'lsn' : 'gtid';
  if ((t.lsn !== undefined ? 'lsn' : 'gtid') !== wanted) {
    throw new CofferError('INVALID_ARGUMENT', `a restore of this datastore takes a time or ${wanted === 'lsn' ? 'an LSN' : 'a GTID'} as its target, not ${wanted === 'lsn' ? 'a GTID' : 'an LSN'}`);
  }
  const bad = cap.table.checkPosition(position);
  if (bad) throw new CofferError('INVALID_ARGUMENT', `restore target ${cap.table.positionName} ${JSON.stringify(position.slice(0, 80))}: ${bad}`);
  return { kind: 'position', position };
}

export interface PointRestoreDeps {
  readonly capability: ArchiveCapability | undefined;
  readonly datastore: string;
  readonly store: (name: string) => ObjectStorage;
  readonly wrappingKey: () => Buffer;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  readonly agentDir: string;
  /** The replay the local socket serves (set while one runs). */
  readonly setSession: (s: ReplaySession | undefined) => void;
  /** Why the datastore stopped during the replay (its crash reason), or undefined while it runs. */
  readonly crashed: () => string | undefined;
}

/** A planned replay, checked before anything starts; Prepare runs its two halves. */
export interface PointReplay {
  readonly target: PointTarget;
  readonly plan: RestorePlan;
  /** Data in place, datastore stopped: serve the archive, configure the replay. */
  before(): Promise<void>;
  /** Datastore started: wait for the target (or the first integrity failure, or its death). */
  after(signal: AbortSignal, onProgress: (message: string) => void): Promise<ReachedPoint>;
  /** The reason to report if the restore failed (an integrity failure beats what the datastore made of it). */
  failure(): Error | undefined;
  end(): void;
}

export async function planPointReplay(
  deps: PointRestoreDeps,
  t: RestoreTarget,
  chain: readonly BackupArtifact[],
  archive: StorageLocation | undefined,
  signal: AbortSignal,
): Promise<PointReplay> {
  const cap = deps.capability;
  if (!cap) throw new CofferError('UNIMPLEMENTED', `restore to a point is not supported by ${deps.datastore}`);
  const target = pointTargetOf(t, cap);
  const newest = chain[chain.length - 1];
  const meta = newest?.metadata;
  if (!meta || !newest.location) throw new CofferError('INVALID_ARGUMENT', 'restore to a point needs the base backup');
  const endPosition = cap.table.kind === 'wal' ? meta.stopLsn : meta.gtidPosition;
  if (!endPosition) throw new CofferError('INVALID_ARGUMENT', `backup ${meta.backupId} records no ${cap.table.positionName} at its end (a ${meta.strategy} backup): restore to a point needs a physical backup`);
  const endTimeMs = Number(meta.extra?.end_time_ms ?? 0) || meta.createdAtMs;
  const storeName = archive?.location ? archive.storage || newest.location.storage : newest.location.storage;
  const store = deps.store(storeName);
  const prefix = archive?.location || archivePrefixBesideBackup(keyOfLocation(store, newest.location.location));
  const catalogue = await readCatalogue(store, prefix, cap.table.kind, signal);
  // Throws INVALID_ARGUMENT naming the window when the target lies outside it.
  const plan = planRestore(catalogue.objects, cap.table, { position: endPosition, timeMs: endTimeMs }, target);
  const session = new ReplaySession(catalogue.objects, { store, wrappingKey: deps.wrappingKey(), runner: deps.runner, log: deps.log }, signal);
  deps.log.info({ target, archive: `${store.name}:${prefix}`, objects: plan.objects.length }, 'restore to a point planned');
  return {
    target,
    plan,
    async before() {
      deps.setSession(session);
      await cap.beforeReplay(target);
    },
    async after(s, onProgress) {
      const watch = new AbortController();
      const stop = (): void => watch.abort(s.reason);
      s.addEventListener('abort', stop);
      const crash = (async (): Promise<never> => {
        for (;;) {
          await sleep(250, undefined, { signal: watch.signal });
          const why = deps.crashed();
          if (why) throw new CofferError('DATASTORE', `the datastore stopped during the replay to the target: ${why}`);
          onProgress(session.lastServed ? `replaying archived ${session.lastServed} (${session.served} fetched)` : 'replaying the archive');
        }
      })();
      crash.catch(() => undefined);
      try {
        const reached = await Promise.race([cap.replay(target, watch.signal, {
            objects: plan.objects,
            startPosition: endPosition,
            fetch: async (name) => {
              const bytes = await session.fetch(name);
              if (!bytes) throw new CofferError('NOT_FOUND', `the archive catalogue does not list ${name}`);
              return bytes;
            },
          }), session.failed, crash]);
        writeRestoredPoint(deps.agentDir, { target: t, position: reached.position, timeMs: reached.timeMs });
        return reached;
      } finally {
        watch.abort();
        s.removeEventListener('abort', stop);
      }
    },
    failure: () => session.failure,
    end: () => deps.setSession(undefined),
  };
}

const restoredPointFile = (agentDir: string): string => path.join(agentDir, 'restored-point.json');

function writeRestoredPoint(agentDir: string, p: RestoredPoint): void {
  const file = restoredPointFile(agentDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(p), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** How far this instance's restore to a point got (GetStatusResponse.restored_point), if it was made by one. */
export function readRestoredPoint(agentDir: string): RestoredPoint | undefined {
  const file = restoredPointFile(agentDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RestoredPoint) : undefined;
}
