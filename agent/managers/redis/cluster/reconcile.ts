// Makes the running members one Redis Cluster as the member list says, from
// whatever state they are in: nodes MEET, the 16384 slots assigned (a new
// cluster) or rebalanced by moving keys (migrate-slots.ts), replicas follow
// their masters, nodes no longer listed are forgotten, and it waits until
// every member serves with the same slot map. Deterministic (slot-plan.ts)
// and idempotent: run again after a crash or on another member, it finishes
// what was open and finds the rest done. It runs only when every listed
// member answers; otherwise it says who is missing and changes nothing.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../../../../lib/logger.js';
import type { ClusterMember } from '../../../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError } from '../../../errors.js';
import type { ProgressEvent } from '../../../lifecycle/context.js';
import { copyAccounts } from './acl-sync.js';
import { isDown, isMaster, SLOTS, type NodeLine } from './cluster-nodes.js';
import { finishOpenSlots, migrateSlots } from './migrate-slots.js';
import { closePeers, openPeers, type Peer, type PeerAuth } from './peer-client.js';
import { balanceMoves, formationOwner, pairReplicas } from './slot-plan.js';
import { waitUntil } from './wait.js';

export interface ReconcileOptions {
  readonly auth: PeerAuth;
  readonly log: Logger;
  readonly emit: (p: ProgressEvent) => void;
  readonly signal: AbortSignal;
  /**
   * Set on SetClusterMembers, which every staying member receives: only the
   * driver acts, the listed member with the lowest instance id among those
   * holding slots (the same answer on every member; once a rebalance has
   * run, a later call anywhere finds nothing to do).
   */
  readonly onlyIfDriver?: string;
  /** How long gossip may take to agree (MEET, slot ownership, replicas). */
  readonly convergeMs?: number;
}

export type ReconcileResult =
  | { readonly done: true; readonly slotsMoved: number; readonly keysMoved: number }
  | { readonly done: false; readonly missing: readonly ClusterMember[]; readonly driver?: string };

const isReplicaRole = (m: ClusterMember): boolean => m.role === 'replica';

export async function reconcile(members: readonly ClusterMember[], opts: ReconcileOptions): Promise<ReconcileResult> {
  const { peers, missing } = await openPeers(members, opts.auth);
  try {
    if (missing.length) return { done: false, missing };
    if (opts.onlyIfDriver !== undefined) {
      const holders = (await Promise.all(peers.map(async (p) => ((await p.myself()).slots.length ? p.member.instanceId : '')))).filter(Boolean).sort();
      const driver = holders[0];
      if (driver !== opts.onlyIfDriver) return { done: false, missing: [], driver: driver ?? '' };
    }
    return await reconcileOpen(peers, opts);
  } finally {
    closePeers(peers);
  }
}

async function meetAddress(m: ClusterMember): Promise<string> {
  return isIP(m.host) ? m.host : (await lookup(m.host)).address;
}

async function reconcileOpen(peers: Peer[], opts: ReconcileOptions): Promise<ReconcileResult> {
  const { emit, log, signal } = opts;
  const convergeMs = opts.convergeMs ?? 120_000;
  const ids = new Set(peers.map((p) => p.id));
  const t0 = Date.now();
  const took: Record<string, number> = {};
  const mark = (what: string): void => {
    took[what] = Date.now() - t0;
  };
  const mine = async (): Promise<NodeLine[]> => Promise.all(peers.map((p) => p.myself()));

  // 1. Every node in one cluster. A new cluster's nodes first get distinct
  // config epochs (as redis-cli --cluster create does), so no collision
  // has to be resolved by gossip later.
  let selves = await mine();
  const fresh = await Promise.all(peers.map(async (p, i) => (await p.nodes()).length === 1 && selves[i]!.configEpoch === 0 && !selves[i]!.slots.length));
  if (fresh.every(Boolean)) {
    await Promise.all(peers.map((p, i) => p.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1).catch(() => undefined)));
  }
  const anchor = peers.find((_, i) => selves[i]!.slots.length) ?? peers.find((p) => !isReplicaRole(p.member)) ?? peers[0]!;
  const known = new Set((await anchor.nodes()).map((n) => n.id));
  const joining = peers.filter((p) => p !== anchor && !known.has(p.id));
  if (joining.length) emit({ phase: 'meet', message: `introducing ${joining.map((p) => p.member.instanceId).join(', ')} to the cluster`, percent: 55 });
  for (const p of joining) await anchor.call('CLUSTER', 'MEET', await meetAddress(p.member), p.member.port, p.member.clusterPorts.bus!);
  await waitUntil('every member to know every other', async () => {
    const views = await Promise.all(peers.map((p) => p.nodes()));
    const short = peers.filter((p, i) => [...ids].some((id) => !views[i]!.some((n) => n.id === id && !n.flags.includes('handshake'))));
    return short.length ? `not yet complete on ${short.map((p) => p.member.instanceId).join(', ')}` : '';
  }, convergeMs, signal);
  mark('met');

  // 2. Accounts: a redirected client authenticates on every node alike.
  await copyAccounts(anchor, peers, log);

  // 3. Nodes the list no longer names are forgotten (a node that left
  // without its LeaveCluster reaching everyone). One still holding slots is
  // refused: its keys would be lost.
  for (const n of await anchor.nodes()) {
    if (ids.has(n.id)) continue;
    if (n.slots.length) throw new AgentError('AGENT_ERR_NOT_READY', `node ${n.id} (${n.addr}) holds ${n.slots.length} slots but is no listed member: remove it with LeaveCluster first`);
    for (const p of peers) await p.call('CLUSTER', 'FORGET', n.id).catch(() => undefined);
  }

  // 4. Moves a crash or a cancel cut short are finished first.
  const finished = await finishOpenSlots(peers, opts.auth, signal);
  if (finished) log.info({ keys: finished }, 'finished the slot moves an earlier call left open');

  // 5. Who serves slots: the list's masters and any node that took over a
  // master's slots in a failover; a listed master that a failover made a
  // replica stays one (it follows the node that took its slots).
  selves = await mine();
  const masters = peers.filter((p, i) => isMaster(selves[i]!) && (!isReplicaRole(p.member) || selves[i]!.slots.length > 0));
  const assigned = selves.reduce((n, s) => n + s.slots.length, 0);
  if (assigned < SLOTS) {
    const owned = new Set(selves.flatMap((s) => s.slots));
    const owner = formationOwner(masters.map((p) => p.id));
    const bySlots = new Map<string, number[]>();
    for (let s = 0; s < SLOTS; s++) {
      if (owned.has(s)) continue;
      const o = owner(s);
      if (!bySlots.has(o)) bySlots.set(o, []);
      bySlots.get(o)!.push(s);
    }
    emit({ phase: 'slots', message: `assigning ${SLOTS - assigned} slots over ${masters.length} masters`, percent: 65 });
    for (const p of masters) {
      const slots = bySlots.get(p.id) ?? [];
      for (const [a, b] of ranges(slots)) await p.call('CLUSTER', 'ADDSLOTSRANGE', a, b);
    }
  }

  // A node that just joined serves (and takes keys: MIGRATE's target
  // refuses with CLUSTERDOWN before) only once it sees every slot covered.
  // A new cluster's masters take up to min(cluster-node-timeout, 5 s)
  // more: Redis keeps a master that was in a minority (a node alone with
  // no slot counts as one) from serving for that long after it is not.
  mark('assigned');
  await waitConverged(peers, convergeMs, signal);
  mark('serving');

  // 6. Replicas: a listed replica that is an empty master follows its pair
  // (pairReplicas), or whoever took that master's slots in a failover.
  const listedMasters = peers.filter((p) => !isReplicaRole(p.member));
  const pairs = pairReplicas(listedMasters.map((p) => p.id), peers.filter((p) => isReplicaRole(p.member)).map((p) => p.id));
  selves = await mine();
  for (const [i, p] of peers.entries()) {
    const me = selves[i]!;
    const pairedTo = pairs.get(p.id);
    if (!pairedTo || !isMaster(me) || me.slots.length) continue;
    const paired = selves[peers.findIndex((x) => x.id === pairedTo)]!;
    const masterId = isMaster(paired) ? paired.id : paired.master;
    await p.call('CLUSTER', 'REPLICATE', masterId);
  }

  // 7. Every master its share: keys move slot by slot, clients redirected.
  selves = await mine();
  const owned = new Map(peers.map((p, i) => [p.id, selves[i]!.slots]));
  const moves = balanceMoves(owned, masters.map((p) => p.id));
  let keysMoved = 0;
  if (moves.length) {
    const started = Date.now();
    emit({ phase: 'rebalance', message: `moving ${moves.length} slots to balance ${masters.length} masters`, percent: 70 });
    keysMoved = await migrateSlots(moves, new Map(peers.map((p) => [p.id, p])), opts.auth, (pr) => {
      emit({ phase: 'rebalance', message: `${pr.slotsDone}/${pr.slotsTotal} slots moved (${pr.keys} keys)`, percent: 70 + Math.floor((25 * pr.slotsDone) / pr.slotsTotal) });
    }, signal);
    log.info({ slots: moves.length, keys: keysMoved, ms: Date.now() - started }, 'rebalanced the cluster');
  }

  mark('moved');
  // 8. Until every member serves with the same slot map.
  await waitConverged(peers, convergeMs, signal);
  mark('converged');
  log.info({ ms: took, slots: moves.length, keys: keysMoved }, 'the cluster is as the member list says');
  return { done: true, slotsMoved: moves.length, keysMoved };
}

function ranges(slots: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of slots) {
    const last = out.at(-1);
    if (last && last[1] === s - 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/**
 * A node's view of who holds which slots and which replica follows whom, as
 * one comparable string: a replica's CLUSTER REPLICATE reaches the others by
 * gossip, and until it has, they still list it as an empty master.
 */
function topology(view: readonly NodeLine[], members: ReadonlySet<string>): string {
  const slots = view.filter((n) => n.slots.length).map((n) => `${n.id}:${n.slots.length}:${n.slots[0]}:${n.slots.at(-1)}`);
  const follows = view.filter((n) => n.master && members.has(n.id)).map((n) => `${n.id}>${n.master}`);
  return [...slots, ...follows].sort().join(' ');
}

export async function waitConverged(peers: readonly Peer[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  await waitUntil('the cluster to serve with one slot map and one replica map on every member', async () => {
    const infos = await Promise.all(peers.map((p) => p.info()));
    const notOk = peers.filter((_, i) => infos[i]!.cluster_state !== 'ok' || infos[i]!.cluster_slots_assigned !== String(SLOTS));
    if (notOk.length) return `cluster_state not ok on ${notOk.map((p) => p.member.instanceId).join(', ')}`;
    const views = await Promise.all(peers.map((p) => p.nodes()));
    const members = new Set(peers.map((p) => p.id));
    if (new Set(views.map((v) => topology(v, members))).size > 1) return 'the members disagree on the slot map or on which replica follows whom';
    const down = views.flatMap((v) => v.filter((n) => peers.some((p) => p.id === n.id) && isDown(n)));
    return down.length ? `${down.length} member links not up` : '';
  }, timeoutMs, signal);
}
