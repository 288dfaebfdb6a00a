// Replication state a restored data directory may carry from the snapshot's
// source (when that source was itself a replica): master.info, relay-log
// info and relay logs name a source and a position that are not this
// replica's. Removed before the copy's first start, so it neither connects
// to that source nor applies stale relay logs; the agent then attaches it to
// its own source (capability.ts).
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const STALE = [
  /^master(-.+)?\.info$/,
  /^relay-log(-.+)?\.info$/,
  /^multi-master\.info$/,
  /(^|-)relay-bin(-.+)?\.(\d{6}|index)$/,
];

/** Removes such files from the (stopped) data directory; returns their names. */
export function removeStaleReplicaState(dataDir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dataDir)) {
    if (!STALE.some((re) => re.test(name))) continue;
    rmSync(path.join(dataDir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
