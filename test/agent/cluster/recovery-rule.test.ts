// The full-outage rule on its own: positions as GetRecoveryPosition gives
// them, the bootstrap refused from any node that is behind or unsure. (The
// real cluster's recovery is galera-cluster.test.ts.)
import t from 'tap';
import { checkBootstrapFrom } from '../../../agent/cluster/recovery-rule.js';
import type { RecoveryPosition } from '../../../proto/gen/coffer/agent/v1/cluster.js';

const U = '6f1c2a4e-0b1d-11ef-9a7c-2b1f3c4d5e6f';
const pos = (instanceId: string, seqno: number, clusterUuid = U): RecoveryPosition => ({ instanceId, clusterUuid, seqno, safeToBootstrap: false, source: 'grastate' });

t.test('the most advanced node (or one tied with it) may bootstrap', async (t) => {
  const all = [pos('a', 10), pos('b', 12), pos('c', 12)];
  t.doesNotThrow(() => checkBootstrapFrom(pos('b', 12), all));
  t.doesNotThrow(() => checkBootstrapFrom(pos('c', 12), all));
});

t.test('a node behind is refused, naming the node ahead and both seqnos', async (t) => {
  t.throws(() => checkBootstrapFrom(pos('a', 10), [pos('a', 10), pos('b', 12)]), { code: 'AGENT_ERR_NOT_READY', message: /behind b \(seqno 10 < 12\)/ });
});

t.test('an unknown own position, or a member of another history, is refused', async (t) => {
  t.throws(() => checkBootstrapFrom(pos('a', -1), [pos('b', 3)]), { message: /unknown \(seqno -1\)/ });
  t.throws(() => checkBootstrapFrom(pos('a', 9), [pos('b', 3, '00000000-0000-0000-0000-000000000001')]), { message: /another history/ });
});
