// The supervisor's ready wait, with a real child (sleep) that never opens
// anything: it times out, unless the child's spec says it is still
// starting (a Galera joiner receiving its SST), and then it waits for the
// answer however long that takes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { Supervisor, type ChildSpec } from '../../agent/supervisor.js';

const log = createLogger({ name: 'test', level: 'silent' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-supervisor-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function supervisor(spec: Partial<ChildSpec>, probe: () => boolean): Supervisor {
  const s = new Supervisor({
    runner: new ProcessRunner(log),
    log,
    pidFile: path.join(dir, 'child.pid'),
    spec: () => ({ argv: ['sleep', '60'], marker: 'sleep', ...spec }),
    probe: async () => probe(),
    readyTimeoutMs: 300,
    stopGraceMs: 1000,
    onCrash: () => undefined,
    onRecovered: () => undefined,
  });
  t.teardown(() => s.stop());
  return s;
}

t.test('a child that never answers fails the start after the ready timeout, and is stopped', async (t) => {
  const s = supervisor({}, () => false);
  await t.rejects(s.start(), { code: 'AGENT_ERR_TIMEOUT', message: /did not answer within 300 ms/ });
  t.notOk(s.running, 'nothing left running');
});

t.test('a child still starting past the ready timeout is waited for until it answers', async (t) => {
  const t0 = Date.now();
  let startedAt = 0;
  const answerAfterMs = 1500;
  const s = supervisor({ stillStarting: (at) => ((startedAt = at), Date.now() - t0 < answerAfterMs + 5000) }, () => Date.now() - t0 > answerAfterMs);
  await s.start();
  t.ok(s.running, 'the child runs');
  t.ok(Date.now() - t0 >= answerAfterMs, 'the start waited past the ready timeout for the answer');
  t.ok(startedAt >= t0, 'stillStarting is given the child\'s start time');
});
