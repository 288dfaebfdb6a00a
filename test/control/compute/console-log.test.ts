// What the control reads from a VM's console: the tail without terminal
// escapes, and the lines that mean the agent will not come up (so a create
// stops waiting): the agent's refusal of its config, systemd giving up on
// a unit. A line that only looks alike (the agent's JSON log) does not.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentGaveUp, consoleTail } from '../../../control/compute/console-log.js';

t.test('console tail and the agent giving up', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-console-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'console.log');
  t.equal(consoleTail(log), '', 'no console yet: nothing');
  t.equal(agentGaveUp(log), null);
  writeFileSync(log, '[    1.0] Linux version 6.1\r\n[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39mcoffer-config-drive.service\x1b[0m.\r\n{"level":30,"name":"coffer-agent","msg":"coffer-agent: listening"}\r\n');
  t.equal(agentGaveUp(log), null, "the agent's JSON log is not a refusal");
  t.equal(consoleTail(log, 2), '[  OK  ] Started coffer-config-drive.service.\n{"level":30,"name":"coffer-agent","msg":"coffer-agent: listening"}', 'the last lines, colours and carriage returns gone');
  writeFileSync(log, 'coffer-agent: the TLS certificate /etc/coffer/tls/instance.crt is for instance "b" (CN "b", DNS names b), not for this instance "a": refusing to start\r\n', { flag: 'a' });
  t.match(agentGaveUp(log), /^coffer-agent: the TLS certificate .* refusing to start$/, "the agent's refusal ends the wait");
  writeFileSync(log, 'x\n');
  t.equal(agentGaveUp(log), null);
  writeFileSync(log, 'coffer-agent.service: Start request repeated too quickly.\n', { flag: 'a' });
  t.equal(agentGaveUp(log), 'coffer-agent.service: Start request repeated too quickly.', 'systemd gave up restarting it');
});
