// YoungCollector: one young-generation collection per `everyBytes` counted,
// none without --expose-gc (tap runs this file without the flag, so a
// stand-in records the calls).
import t from 'tap';
import { YoungCollector } from '../../lib/young-gc.js';

t.test('without a gc function it is inactive and counting does nothing', async (t) => {
  t.equal((globalThis as { gc?: unknown }).gc, undefined, 'this process has no gc');
  const y = new YoungCollector(10);
  t.equal(y.active, false);
  t.doesNotThrow(() => y.add(1_000));
});

t.test('one synchronous minor collection each time the bytes reach the interval', async (t) => {
  const calls: unknown[] = [];
  (globalThis as { gc?: (o: unknown) => void }).gc = (o) => void calls.push(o);
  t.teardown(() => delete (globalThis as { gc?: unknown }).gc);
  const y = new YoungCollector(100);
  t.equal(y.active, true);
  y.add(60);
  t.equal(calls.length, 0, 'not before the interval');
  y.add(60);
  t.same(calls, [{ type: 'minor', execution: 'sync' }], 'a young collection, not a full one, at 120 of 100 bytes');
  y.add(99);
  t.equal(calls.length, 1, 'the count starts again after a collection');
  y.add(1);
  t.equal(calls.length, 2);
  // `add` is handed around as a callback (HashMeter's onBytes).
  const add = y.add;
  add(100);
  t.equal(calls.length, 3, 'works unbound');
});
