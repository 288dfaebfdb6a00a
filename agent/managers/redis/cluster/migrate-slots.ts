// Moves hash slots between members the way Redis Cluster intends, with
// clients redirected all along: the target marks the slot IMPORTING, the
// source MIGRATING; the source's keys go over in batches by MIGRATE (a key
// is deleted on the source only once the target holds it); then the slot is
// given to the target, on the target first. Meanwhile a client asking the
// source for a key already moved gets ASK (it retries on the target with
// ASKING); once the slot is the target's, MOVED. No key is lost, and a
// move cut short (a crash, a cancel) is finished by finishOpenSlots on the
// next call: the slot stays open on both nodes until then, and both still
// answer for it.
import { throwIfCancelled } from '../../../lifecycle/context.js';
import type { Peer, PeerAuth } from './peer-client.js';
import type { SlotMove } from './slot-plan.js';

/** Keys per MIGRATE: big enough to amortise the round trip, small enough to keep a slow value from blocking long. */
export const MIGRATE_BATCH = 1000;
/** Slots in flight at once (the round trips of one slot overlap the others'). */
export const SLOTS_IN_FLIGHT = 64;
const MIGRATE_TIMEOUT_MS = 60_000;

export interface MigrateProgress {
  readonly slotsDone: number;
  readonly slotsTotal: number;
  readonly keys: number;
}

/** The keys left in one slot of the source go to the target; returns how many moved. */
export async function drainSlot(source: Peer, target: Peer, slot: number, auth: PeerAuth): Promise<number> {
  let moved = 0;
  for (;;) {
    const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', slot, MIGRATE_BATCH)) as string[];
    if (!keys.length) return moved;
    // The password travels as a RESP argument to the source, never on a
    // command line; Redis redacts it from SLOWLOG and MONITOR. REPLACE: a
    // key the source still holds is the current one (writes to a key that
    // exists on the source go to the source until it moves).
    await source.call('MIGRATE', target.member.host, target.member.port, '', 0, MIGRATE_TIMEOUT_MS, 'REPLACE', 'AUTH2', auth.user, auth.password, 'KEYS', ...keys);
    moved += keys.length;
    // A short batch was all of it: while the slot is MIGRATING the source
    // takes no new key (a write to a key it lacks is redirected by ASK).
    if (keys.length < MIGRATE_BATCH) return moved;
  }
}

/** One slot, from open to given: idempotent (a slot already open the same way is opened again harmlessly). */
export async function moveSlot(source: Peer, target: Peer, slot: number, auth: PeerAuth): Promise<number> {
  // A move cut short after the target took the slot: only the source's side is left.
  const targetOwns = await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id).then(() => false, tolerate(/already the owner/));
  // The source does not hold the slot (given away already): nothing of it is left there.
  const sourceGone = await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id).then(() => false, tolerate(/not the owner/));
  if (sourceGone) {
    // The move is over (the target holds the slot) or not to be made (a
    // third node does): only what is still open is closed.
    if (!targetOwns) await target.call('CLUSTER', 'SETSLOT', slot, 'STABLE');
    else await source.call('CLUSTER', 'SETSLOT', slot, 'STABLE');
    return 0;
  }
  const moved = await drainSlot(source, target, slot, auth);
  await target.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
  // A source that learned by gossip it lost its last slot became a replica
  // (cluster-allow-replica-migration): the slot is the target's already.
  await source.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id).catch(tolerate(/only with masters/));
  return moved;
}

/** A refusal that only means "done already" (true), anything else rethrown. */
function tolerate(done: RegExp): (err: Error) => boolean {
  return (err) => {
    if (done.test(err.message)) return true;
    throw err;
  };
}

/** Runs the moves, SLOTS_IN_FLIGHT at a time; returns the keys moved. */
export async function migrateSlots(
  moves: readonly SlotMove[],
  byId: ReadonlyMap<string, Peer>,
  auth: PeerAuth,
  onProgress: (p: MigrateProgress) => void,
  signal: AbortSignal,
): Promise<number> {
  let next = 0;
  let done = 0;
  let keys = 0;
  const worker = async (): Promise<void> => {
    while (next < moves.length) {
      throwIfCancelled(signal, 'moving hash slots');
      const m = moves[next++]!;
      keys += await moveSlot(byId.get(m.from)!, byId.get(m.to)!, m.slot, auth);
      done++;
      if (done % 256 === 0 || done === moves.length) onProgress({ slotsDone: done, slotsTotal: moves.length, keys });
    }
  };
  await Promise.all(Array.from({ length: Math.min(SLOTS_IN_FLIGHT, moves.length) }, worker));
  return keys;
}

/**
 * Slots a cut-short move left open (MIGRATING on a source, IMPORTING on a
 * target): finished towards the target they were going to, so a repeated
 * call ends where the first would have. A slot open on one side only (the
 * cut came between the two SETSLOTs) is opened on the other first.
 */
export async function finishOpenSlots(peers: readonly Peer[], auth: PeerAuth, signal: AbortSignal): Promise<number> {
  const byId = new Map(peers.map((p) => [p.id, p]));
  const moves = new Map<number, { from: string; to: string }>();
  for (const p of peers) {
    const me = await p.myself();
    for (const [slot, to] of me.migrating) moves.set(slot, { from: p.id, to });
    for (const [slot, from] of me.importing) if (!moves.has(slot)) moves.set(slot, { from, to: p.id });
  }
  const list = [...moves].map(([slot, m]) => ({ slot, ...m })).filter((m) => byId.has(m.from) && byId.has(m.to));
  if (!list.length) return 0;
  return migrateSlots(list, byId, auth, () => undefined, signal);
}
