// A member leaving (LeaveCluster, a shrink): its slots move to the other
// masters first (each to the one holding the fewest, keys and all, clients
// redirected), replicas that followed it follow another master, then every
// other member forgets it. Redis bans a forgotten node id for 60 s, so the
// forgets go to all members in one quick pass and the agent stops the node
// right after (the core does, then deconfigure): it is never gossiped back.
// A replica leaving has no slots: it is only forgotten.
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../../../../lib/logger.js';
import type { ClusterMember } from '../../../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError } from '../../../errors.js';
import { isDown, isMaster, isMyself, parseClusterNodes } from './cluster-nodes.js';
import { finishOpenSlots, migrateSlots } from './migrate-slots.js';
import { closePeers, openPeers, Peer, type PeerAuth } from './peer-client.js';
import { spreadMoves } from './slot-plan.js';
import { waitUntil } from './wait.js';

export interface LeaveOptions {
  readonly self: ClusterMember;
  readonly members: readonly ClusterMember[];
  readonly auth: PeerAuth;
  /** The node's nodes.conf, read when it does not run. */
  readonly nodesConf: string;
  readonly running: boolean;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly convergeMs?: number;
}

export async function leaveCluster(opts: LeaveOptions): Promise<void> {
  const { self, log } = opts;
  const others = opts.members.filter((m) => m.instanceId !== self.instanceId);
  const { peers } = await openPeers(others, opts.auth);
  try {
    let myId: string;
    if (opts.running) {
      const me = await Peer.open(self, opts.auth);
      try {
        myId = me.id;
        await moveAway(me, peers, opts);
      } finally {
        me.close();
      }
    } else {
      // Not running: nothing can move, so only a node that holds no slot may go.
      const line = existsSync(opts.nodesConf) ? parseClusterNodes(readFileSync(opts.nodesConf, 'utf8')).find(isMyself) : undefined;
      if (!line) return;
      if (line.slots.length) throw new AgentError('AGENT_ERR_NOT_READY', `this node holds ${line.slots.length} slots and does not run: start it (Start) so its keys can move before it leaves`);
      myId = line.id;
    }
    for (const p of peers) {
      await p.call('CLUSTER', 'FORGET', myId).catch((err: Error) => {
        if (!/Unknown node/i.test(err.message)) throw err;
      });
    }
    log.info({ node: myId, forgotten_by: peers.length }, 'left the cluster');
  } finally {
    closePeers(peers);
  }
}

async function moveAway(me: Peer, peers: readonly Peer[], opts: LeaveOptions): Promise<void> {
  const { log, signal } = opts;
  const convergeMs = opts.convergeMs ?? 120_000;
  await finishOpenSlots([me, ...peers], opts.auth, signal);
  const mine = await me.myself();
  const selves = await Promise.all(peers.map((p) => p.myself()));
  const masters = peers.filter((_, i) => isMaster(selves[i]!) && !isDown(selves[i]!));
  if (isMaster(mine) && mine.slots.length) {
    const remaining = masters.filter((p) => p.id !== me.id);
    if (!remaining.length) throw new AgentError('AGENT_ERR_NOT_READY', `no other master answers to take this node's ${mine.slots.length} slots: the last master cannot leave`);
    const owned = new Map(remaining.map((p) => [p.id, selves[peers.indexOf(p)]!.slots]));
    const moves = spreadMoves(me.id, mine.slots, owned, remaining.map((p) => p.id));
    const started = Date.now();
    const keys = await migrateSlots(moves, new Map([me, ...remaining].map((p) => [p.id, p])), opts.auth, () => undefined, signal);
    log.info({ slots: moves.length, keys, ms: Date.now() - started }, "moved the leaving node's slots to the other masters");
  }
  // Replicas that followed this node follow the master with the fewest replicas.
  const followers = peers.filter((_, i) => selves[i]!.master === me.id);
  for (const f of followers) {
    const counts = masters.map((m) => ({ m, n: selves.filter((s) => s.master === m.id).length }));
    const to = counts.filter((c) => c.m.id !== me.id).sort((a, b) => a.n - b.n)[0];
    if (to) await f.call('CLUSTER', 'REPLICATE', to.m.id);
  }
  await waitUntil('the other members to see this node without slots or followers', async () => {
    const views = await Promise.all(peers.map((p) => p.nodes()));
    const stale = peers.filter((_, i) => views[i]!.some((n) => (n.id === me.id && n.slots.length) || (n.master === me.id && !isDown(n))));
    return stale.length ? `not yet on ${stale.map((p) => p.member.instanceId).join(', ')}` : '';
  }, convergeMs, signal);
}
