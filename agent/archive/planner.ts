// The restore-to-a-point planner, one for every datastore: from the base
// backup's end, the archive's catalogue and a target, which archived objects
// the replay needs, or a refusal naming the earliest and latest restorable
// points, given before anything is touched (issue 18).
import type { ArchivedObject } from '../../strategies/archive/layout.js';
import { CofferError } from '../../lib/coded-error.js';
import type { ArchiveDatastore, PointTarget } from './archive-datastore.js';

/** Where the base backup leaves the datastore: the replay starts there. */
export interface BaseBackupEnd {
  readonly position: string;
  /** When the backup ended (ms): no earlier time is restorable from it. */
  readonly timeMs: number;
}

export interface Window {
  readonly earliestTimeMs: number;
  readonly latestTimeMs: number;
  readonly earliestPosition: string;
  readonly latestPosition: string;
}

export interface RestorePlan {
  /** The archived objects to replay, in order (from the one holding the backup's end). */
  readonly objects: readonly ArchivedObject[];
  readonly window: Window;
}

export const EMPTY_WINDOW: Window = Object.freeze({ earliestTimeMs: 0, latestTimeMs: 0, earliestPosition: '', latestPosition: '' });

/**
 * The unbroken run of archived objects that starts with the one holding
 * `from` (or the first, without it), and the window it gives. The latest
 * restorable time is the last commit the run holds, to the second below
 * it: a replay to a time stops at the first commit after it, so a later
 * target would run off the end of the archive.
 */
export function windowOf(all: readonly ArchivedObject[], ds: ArchiveDatastore, from?: BaseBackupEnd): { run: ArchivedObject[]; window: Window } {
  const objects = all.filter((o) => ds.inSequence(o.name));
  let start = 0;
  if (from) {
    start = objects.findIndex((o) => ds.comparePositions(o.endPosition, from.position) > 0);
    if (start < 0 || ds.comparePositions(objects[start]!.startPosition, from.position) > 0) return { run: [], window: EMPTY_WINDOW };
  }
  const run: ArchivedObject[] = [];
  for (let i = start; i < objects.length; i++) {
    if (run.length > 0 && !ds.follows(run[run.length - 1]!, objects[i]!)) break;
    run.push(objects[i]!);
  }
  if (run.length === 0) return { run, window: EMPTY_WINDOW };
  const commits = run.filter((o) => o.lastCommitMs > 0);
  const lastCommit = commits.length > 0 ? commits[commits.length - 1]!.lastCommitMs : 0;
  const firstCommit = commits.length > 0 ? commits[0]!.firstCommitMs : 0;
  const earliestTimeMs = from ? Math.ceil(from.timeMs / 1000) * 1000 : Math.ceil(firstCommit / 1000) * 1000;
  // The last whole second strictly before the last commit.
  const latestTimeMs = lastCommit > 0 ? Math.ceil(lastCommit / 1000) * 1000 - 1000 : 0;
  return {
    run,
    window: {
      earliestTimeMs: latestTimeMs >= earliestTimeMs ? earliestTimeMs : 0,
      latestTimeMs: latestTimeMs >= earliestTimeMs ? latestTimeMs : 0,
      earliestPosition: from?.position ?? run[0]!.startPosition,
      latestPosition: run[run.length - 1]!.endPosition,
    },
  };
}

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString().replace('.000Z', 'Z') : 'none');

/** Plans a replay to `target`, or throws INVALID_ARGUMENT naming the restorable window. */
export function planRestore(objects: readonly ArchivedObject[], ds: ArchiveDatastore, from: BaseBackupEnd, target: PointTarget): RestorePlan {
  const { run, window } = windowOf(objects, ds, from);
  const span = `restorable from ${iso(window.earliestTimeMs)} to ${iso(window.latestTimeMs)} (${ds.positionName} ${window.earliestPosition || 'none'} to ${window.latestPosition || 'none'})`;
  if (run.length === 0) throw new CofferError('INVALID_ARGUMENT', `the archive holds nothing after the backup's end (${ds.positionName} ${from.position}): nothing is ${span}`);
  if (target.kind === 'time') {
    const ms = target.unixSeconds * 1000;
    if (window.latestTimeMs === 0 || ms < window.earliestTimeMs || ms > window.latestTimeMs) {
      throw new CofferError('INVALID_ARGUMENT', `restore time ${iso(ms)} is outside the archive: ${span}`);
    }
    // Every object up to the first commit after the target.
    const last = run.findIndex((o) => o.lastCommitMs > ms + 999);
    return { objects: last < 0 ? run : run.slice(0, last + 1), window };
  }
  const bad = ds.checkPosition(target.position);
  if (bad) throw new CofferError('INVALID_ARGUMENT', `restore ${ds.positionName} ${JSON.stringify(target.position)}: ${bad}`);
  // With inclusive ends the latest position itself is a target; an LSN must lie before the end.
  const pastEnd = ds.comparePositions(target.position, window.latestPosition) > (ds.endInclusive ? 0 : -1);
  if (ds.comparePositions(target.position, window.earliestPosition) < 0 || pastEnd) {
    throw new CofferError('INVALID_ARGUMENT', `restore ${ds.positionName} ${target.position} is outside the archive: ${span}`);
  }
  // The first object whose range holds the target.
  const last = run.findIndex((o) => ds.comparePositions(o.endPosition, target.position) >= (ds.endInclusive ? 0 : 1));
  return { objects: run.slice(0, last + 1), window };
}
