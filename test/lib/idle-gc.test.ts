// collectWhenIdle: one collection after a burst of operations ends, none
// without --expose-gc (this test process has no gc of its own: tap runs it
// without the flag, so a stand-in records the calls).
import t from 'tap';
import { collectWhenIdle } from '../../lib/idle-gc.js';

t.test('without a gc function it does nothing and keeps nothing alive', async (t) => {
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'this process has no gc');
  t.doesNotThrow(() => collectWhenIdle());
});

t.test('several operations ending close together give one collection', async (t) => {
  let calls = 0;
  (globalThis as { gc?: () => void }).gc = () => void calls++;
  t.teardown(() => delete (globalThis as { gc?: unknown }).gc);
  collectWhenIdle();
  collectWhenIdle();
  collectWhenIdle();
  // The process stays alive through the wait only because this test polls.
  const deadline = Date.now() + 30_000;
  while (calls === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // Three timers left running would fire in the same turn: the count would be 3.
  t.equal(calls, 1, 'collected once, not once per call');
});
