// The slot plans every agent computes alike from the member list: a new
// cluster's ranges, the fewest moves to balance, a leaving node's spread,
// and the replicas' pairing. Pure functions: no server needed.
import t from 'tap';
import { balanceMoves, formationOwner, pairReplicas, spreadMoves } from '../../../../../agent/managers/redis/cluster/slot-plan.js';
import { parseClusterNodes, showSlots } from '../../../../../agent/managers/redis/cluster/cluster-nodes.js';

const SLOTS = 16384;
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const counts = (owned: Map<string, number[]>) => Object.fromEntries([...owned].map(([k, v]) => [k, v.length]));
function apply(owned: Map<string, number[]>, moves: ReturnType<typeof balanceMoves>): Map<string, number[]> {
  const out = new Map([...owned].map(([k, v]) => [k, new Set(v)]));
  for (const m of moves) {
    out.get(m.from)!.delete(m.slot);
    if (!out.has(m.to)) out.set(m.to, new Set());
    out.get(m.to)!.add(m.slot);
  }
  return new Map([...out].map(([k, v]) => [k, [...v]]));
}

t.test('a new cluster: contiguous ranges in list order, as redis-cli --cluster create', async (t) => {
  const owner = formationOwner(['a', 'b', 'c']);
  t.same([owner(0), owner(5461), owner(5462), owner(10923), owner(16383)], ['a', 'a', 'b', 'c', 'c']);
  const n = new Map<string, number>();
  for (let s = 0; s < SLOTS; s++) n.set(owner(s), (n.get(owner(s)) ?? 0) + 1);
  t.same(Object.fromEntries(n), { a: 5462, b: 5461, c: 5461 });
});

t.test('grow 3 -> 4: a quarter moves to the new master, each old one gives its share, and a second plan is empty', async (t) => {
  const owned = new Map([['a', range(0, 5461)], ['b', range(5462, 10922)], ['c', range(10923, 16383)], ['d', [] as number[]]]);
  const moves = balanceMoves(owned, ['a', 'b', 'c', 'd']);
  t.equal(moves.length, 4096, 'only the slots the new master needs move');
  t.ok(moves.every((m) => m.to === 'd'), 'all of them to the new master');
  const after = apply(owned, moves);
  t.same(counts(after), { a: 4096, b: 4096, c: 4096, d: 4096 });
  t.same(balanceMoves(after, ['a', 'b', 'c', 'd']), [], 'balanced: nothing to do');
});

t.test('a node that leaves: its slots spread to the least loaded, then the rest is balanced', async (t) => {
  const owned = new Map([['a', range(0, 4095)], ['b', range(4096, 8191)], ['c', range(8192, 12287)], ['d', range(12288, 16383)]]);
  const moves = spreadMoves('b', owned.get('b')!, owned, ['a', 'c', 'd']);
  t.equal(moves.length, 4096);
  const after = apply(owned, moves);
  after.delete('b');
  t.same(Object.values(counts(after)).sort(), [5461, 5461, 5462]);
  t.same(balanceMoves(after, ['a', 'c', 'd']), [], 'already balanced');
  t.same(spreadMoves('b', [1], owned, []), [], 'no one to take them: no plan');
});

t.test('replicas pair round-robin with the masters in list order', async (t) => {
  t.same([...pairReplicas(['a', 'b'], ['r1', 'r2', 'r3'])], [['r1', 'a'], ['r2', 'b'], ['r3', 'a']]);
  t.same([...pairReplicas([], ['r1'])], []);
});

t.test('CLUSTER NODES lines: ranges, open slots, flags', async (t) => {
  const [me, other] = parseClusterNodes(
    'aaa 127.0.0.1:7000@17000 myself,master - 0 0 3 connected 0-2 5 [6->-bbb] [7-<-bbb]\n' +
    'bbb 127.0.0.1:7001@17001,host master,fail - 0 0 4 disconnected\n',
  );
  t.same(me!.slots, [0, 1, 2, 5]);
  t.same([...me!.migrating], [[6, 'bbb']]);
  t.same([...me!.importing], [[7, 'bbb']]);
  t.equal(me!.configEpoch, 3);
  t.equal(other!.addr, '127.0.0.1:7001');
  t.same(other!.flags, ['master', 'fail']);
  t.equal(showSlots([5, 0, 1, 2]), '0-2 5');
});
