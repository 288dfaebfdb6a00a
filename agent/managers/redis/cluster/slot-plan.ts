// Where the 16384 hash slots go, computed from the member list alone, so
// every agent that computes it finds the same answer and a repeated call
// finds its work done. Pure: owners in, slots and moves out. Nodes are named
// by the caller's keys (node ids), in the member list's order.
import { SLOTS } from './cluster-nodes.js';

export interface SlotMove {
  readonly slot: number;
  readonly from: string;
  readonly to: string;
}

/** A new cluster: contiguous ranges over the masters in list order, the first `16384 % n` one slot larger (as redis-cli --cluster create). */
export function formationOwner(masters: readonly string[]): (slot: number) => string {
  const n = masters.length;
  const base = Math.floor(SLOTS / n);
  const extra = SLOTS % n;
  const starts: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    starts.push(at);
    at += base + (i < extra ? 1 : 0);
  }
  return (slot) => {
    let i = n - 1;
    while (starts[i]! > slot) i--;
    return masters[i]!;
  };
}

/**
 * The fewest moves that make every master hold floor(16384/n) or one more.
 * Masters already within that band keep what they hold; a master above it
 * gives away its highest slots; masters below it take them, in list order.
 * Returns [] when balanced.
 */
export function balanceMoves(owned: ReadonlyMap<string, readonly number[]>, masters: readonly string[]): SlotMove[] {
  const n = masters.length;
  if (!n) return [];
  const base = Math.floor(SLOTS / n);
  const count = (id: string): number => owned.get(id)?.length ?? 0;
  if (masters.every((m) => count(m) === base || count(m) === base + 1)) return [];
  // The `extra` masters allowed one more: those holding the most already
  // (fewest moves), ties broken by list order.
  let extra = SLOTS % n;
  const byHolding = [...masters].sort((a, b) => count(b) - count(a) || masters.indexOf(a) - masters.indexOf(b));
  const target = new Map<string, number>();
  for (const m of byHolding) target.set(m, base + (extra-- > 0 ? 1 : 0));
  const pool: Array<{ slot: number; from: string }> = [];
  for (const m of masters) {
    const slots = [...(owned.get(m) ?? [])].sort((a, b) => b - a);
    for (const slot of slots.slice(0, Math.max(0, slots.length - target.get(m)!))) pool.push({ slot, from: m });
  }
  // Slots held by nodes that are no master of the list (a node leaving) go too.
  for (const [id, slots] of owned) {
    if (!masters.includes(id)) for (const slot of slots) pool.push({ slot, from: id });
  }
  const moves: SlotMove[] = [];
  for (const m of masters) {
    for (let need = target.get(m)! - count(m); need > 0 && pool.length; need--) {
      const { slot, from } = pool.shift()!;
      moves.push({ slot, from, to: m });
    }
  }
  return moves;
}

/**
 * A node leaving: each of its slots to the remaining master holding the
 * fewest at that moment (ties: list order), so the rest stays balanced.
 */
export function spreadMoves(leaving: string, slots: readonly number[], owned: ReadonlyMap<string, readonly number[]>, remaining: readonly string[]): SlotMove[] {
  if (!remaining.length) return [];
  const counts = new Map(remaining.map((m) => [m, owned.get(m)?.length ?? 0]));
  return [...slots].sort((a, b) => a - b).map((slot) => {
    let to = remaining[0]!;
    for (const m of remaining) if (counts.get(m)! < counts.get(to)!) to = m;
    counts.set(to, counts.get(to)! + 1);
    return { slot, from: leaving, to };
  });
}

/** Replica i (list order) follows master i mod n (list order): deterministic, and one replica per master before any gets two. */
export function pairReplicas(masters: readonly string[], replicas: readonly string[]): Map<string, string> {
  return new Map(masters.length ? replicas.map((r, i) => [r, masters[i % masters.length]!] as const) : []);
}
