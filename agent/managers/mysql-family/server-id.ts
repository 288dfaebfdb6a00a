// The server_id of an instance: GTIDs carry it, and a source refuses a
// replica with its own id, so every instance needs one of its own. Derived
// from the instance id (stable across restarts and restores, no state to
// keep): the first 32 bits of its SHA-256, never 0 (0 disables
// replication). Two instances of one replication set share an id with a
// probability of about n²/2³³.
import { createHash } from 'node:crypto';

export function serverIdFor(instanceId: string): number {
  const n = createHash('sha256').update(instanceId, 'utf8').digest().readUInt32BE(0);
  return n === 0 ? 1 : n;
}
