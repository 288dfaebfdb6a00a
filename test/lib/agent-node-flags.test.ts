// The agent's V8 flags (lib/agent-node-flags.ts) are the same wherever it starts:
// run directly through the launcher's shebang, by the local compute driver,
// and by the test harness.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { AGENT_BIN, agentEnv, startAgent, withoutTapLoaders } from '../support/agent.js';

t.test("the launcher's shebang carries exactly AGENT_NODE_FLAGS", async (t) => {
  const first = readFileSync(AGENT_BIN, 'utf8').split('\n')[0];
  t.equal(first, `#!/usr/bin/env -S node ${AGENT_NODE_FLAGS.join(' ')}`);
});

t.test('the launcher runs when executed directly', async (t) => {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(...withoutTapLoaders([AGENT_BIN, '--help']), { env: agentEnv() }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  t.match(out, /Usage: coffer-agent/);
});

t.test('an agent started by the harness runs with the flags', async (t) => {
  const a = await startAgent(t);
  const argv = readFileSync(`/proc/${a.proc.pid}/cmdline`, 'utf8').split('\0');
  for (const f of AGENT_NODE_FLAGS) t.ok(argv.includes(f), `${f} is on the agent's command line`);
  // tap's processinfo puts its loader back into every child's NODE_OPTIONS;
  // the harness removes it again (it doubles an agent's start CPU).
  const env = readFileSync(`/proc/${a.proc.pid}/environ`, 'utf8').split('\0');
  t.same(env.filter((e) => e.startsWith('NODE_OPTIONS=') || e.startsWith('_TAP')), [], "no test-runner loader in the agent's environment");
});
