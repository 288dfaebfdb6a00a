// The agent and the control keep running, and stop on SIGTERM, when the
// reader of their standard output has gone (`coffer-agent | head`, a closed
// terminal): before, a SIGTERM after the reader left never ended the agent
// (its exit flush retried the broken write forever), and a reader gone
// before the 'listening' line killed it with an unhandled EPIPE.
import t from 'tap';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AGENT_BIN, agentEnv, tempBase, waitFor, withoutTapLoaders } from '../support/agent.js';
import { CONTROL_BIN } from '../support/control.js';
import { freePort } from '../support/ports.js';

const exitOf = (p: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => (p.exitCode !== null ? resolve(p.exitCode) : p.once('exit', (code) => resolve(code))));

/** Resolves at the 'listening' line (its own line, not a log record: it is written once the signal handlers are in place). */
function listening(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: p.stdout! });
    rl.on('line', (line) => {
      if (/^\{"msg":"listening"/.test(line)) resolve();
    });
    p.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
  });
}

/** SIGTERM, then the exit code, or null if it is still running after a minute (a stop a user would give up on). */
async function stopWithin(p: ChildProcess): Promise<number | null | 'still running'> {
  p.kill('SIGTERM');
  const code = await Promise.race([exitOf(p), new Promise<'still running'>((r) => setTimeout(() => r('still running'), 60_000).unref())]);
  if (code === 'still running') p.kill('SIGKILL');
  return code;
}

const agentArgs = (listen: string): string[] => [
  AGENT_BIN, '--listen', listen, '--datastore', 'redis', '--base-dir', path.join(tempBase(), 'base'), '--datastore-port', '1', '--insecure',
];

t.test('the agent: its stdout reader gone after the listening line, SIGTERM still stops it', async (t) => {
  const p = spawn(...withoutTapLoaders(agentArgs('127.0.0.1:0')), { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv() });
  t.teardown(() => void p.kill('SIGKILL'));
  await listening(p);
  p.stdout!.destroy();
  t.equal(await stopWithin(p), 0, 'exit code 0');
});

t.test('the agent: its stdout reader gone before it listens, it serves and stops', async (t) => {
  const port = await freePort();
  const p = spawn(...withoutTapLoaders(agentArgs(`127.0.0.1:${port}`)), { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv() });
  t.teardown(() => void p.kill('SIGKILL'));
  p.stdout!.destroy();
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('the agent accepting connections', () => new Promise<boolean>((resolve, reject) => {
    if (p.exitCode !== null) return reject(new Error(`the agent exited with ${p.exitCode}: ${stderr}`));
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  }), 60_000);
  t.equal(await stopWithin(p), 0, `exit code 0${stderr ? ` (stderr: ${stderr.slice(0, 300)})` : ''}`);
});

t.test('the control: its stdout reader gone, SIGTERM still stops it', async (t) => {
  const dataDir = path.join(tempBase('coffer-ctl-'), 'data');
  const argv = [CONTROL_BIN, 'serve', '--data-dir', dataDir, '--grpc', '127.0.0.1:0', '--conductor', '127.0.0.1:0', '--rest', '127.0.0.1:0', '--no-metrics'];
  const p = spawn(...withoutTapLoaders(argv), { stdio: ['ignore', 'pipe', 'pipe'], env: agentEnv() });
  t.teardown(() => void p.kill('SIGKILL'));
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await listening(p);
  p.stdout!.destroy();
  t.equal(await stopWithin(p), 0, `exit code 0${stderr ? ` (stderr: ${stderr.slice(0, 600)})` : ''}`);
});
