// ProcessRunner.spawn: each tool in a process group of its own inside the
// agent's session (lib/process-group.ts), so that a stop reaches everything
// the tool started while the tool stays in the agent's scheduling group;
// a long-lived server (session 'own') in a session of its own. And what
// the wrapper must not change: exit codes, signals, stdin, uid drops.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner, type ChildHandle } from '../../lib/process-runner.js';
import { alive, waitFor } from '../support/agent.js';

const log = createLogger({ level: 'silent' });
const runner = new ProcessRunner(log);
const TOOL = path.join(import.meta.dirname, 'fixtures', 'tool-with-child.sh');

/** A process's group and session (/proc/<pid>/stat: the fields after the command's closing parenthesis). */
function ids(pid: number | 'self'): { pgrp: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(pgrp), session: Number(session) };
}

/** The kernel's scheduling group of a process (sched_autogroup), or null where the kernel has none. */
function autogroup(pid: number | 'self'): string | null {
  const file = `/proc/${pid}/autogroup`;
  return existsSync(file) ? readFileSync(file, 'utf8').replace(/ nice.*/s, '').trim() : null;
}

/** Starts the stand-in tool; resolves with it and the pid of the program it started. */
async function toolWithChild(r: ProcessRunner, opts: { session?: 'own'; killAfterMs?: number } = {}): Promise<{ tool: ChildHandle; grandchild: number }> {
  let grandchild = 0;
  const tool = r.spawn([TOOL], { ...opts, onLine: (line) => void (grandchild = Number(/^child (\d+)$/.exec(line)?.[1] ?? grandchild)) });
  await waitFor('the tool to report the program it started', async () => grandchild > 0, 30_000);
  return { tool, grandchild };
}

t.test("a tool: its own process group in this process's session and scheduling group; a stop reaches what it started", async (t) => {
  const { tool, grandchild } = await toolWithChild(runner, { killAfterMs: 60_000 });
  const mine = ids('self');
  const its = ids(tool.pid);
  t.equal(its.session, mine.session, "the tool is in this process's session");
  t.equal(its.pgrp, tool.pid, 'it leads a process group of its own');
  t.not(its.pgrp, mine.pgrp, "which is not this process's group");
  t.equal(ids(grandchild).pgrp, tool.pid, 'what it started is in its group');
  if (autogroup('self') !== null) t.equal(autogroup(tool.pid), autogroup('self'), 'and it shares our scheduling autogroup');

  // A grace of 60 s: had the SIGTERM missed the group, only the SIGKILL
  // after it would end the tool, and the exit would say SIGKILL.
  t.same(await tool.stop(), { code: null, signal: 'SIGTERM' }, 'a stop ends the tool with its SIGTERM');
  await waitFor('the program the tool started to be gone', async () => !alive(grandchild), 30_000);
  t.pass('the program the tool started is gone too');
});

t.test('a stop given before the tool has even started still reaches its group with that signal', async (t) => {
  const tool = runner.spawn([TOOL], { killAfterMs: 60_000 });
  t.same(await tool.stop(), { code: null, signal: 'SIGTERM' }, 'SIGTERM, not the SIGKILL 60 s later');
});

t.test("a long-lived server (session 'own'): a session and scheduling group of its own; a stop still reaches what it started", async (t) => {
  const { tool, grandchild } = await toolWithChild(runner, { session: 'own' });
  const its = ids(tool.pid);
  t.equal(its.session, tool.pid, 'it leads a session of its own');
  t.equal(its.pgrp, tool.pid, 'and a process group');
  if (autogroup('self') !== null) t.not(autogroup(tool.pid), autogroup('self'), 'its own scheduling autogroup');
  t.same(await tool.stop(), { code: null, signal: 'SIGTERM' });
  await waitFor('the program the server started to be gone', async () => !alive(grandchild), 30_000);
});

t.test('through the wrapper, a tool is what it was: exit codes, signals, stdin, the uid it runs as, no extra descriptor', async (t) => {
  const out = (child: ChildHandle): Promise<string> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = [];
      child.stdout!.on('data', (c: Buffer) => chunks.push(c));
      child.stdout!.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });

  t.same(await runner.spawn(['sh', '-c', 'exit 3']).exited, { code: 3, signal: null }, "the tool's exit code");
  t.same(await runner.spawn(['sh', '-c', 'kill -USR1 $$']).exited, { code: null, signal: 'SIGUSR1' }, 'the signal that killed it');

  const cat = runner.spawn(['cat'], { stdin: 'pipe', stdout: 'pipe', logOutput: false });
  const echoed = out(cat);
  cat.stdin!.end('bytes through stdin\n');
  t.equal(await echoed, 'bytes through stdin\n', 'stdin and stdout are the pipes given');
  t.same(await cat.exited, { code: 0, signal: null });

  // uid/gid 65534 (nobody): the drop happens before the wrapper, which the tool inherits.
  const id = runner.spawn(['id', '-u'], { uid: 65534, gid: 65534, stdout: 'pipe', logOutput: false });
  t.equal((await out(id)).trim(), '65534', 'the tool runs as the uid asked for');
  const gid = runner.spawn(['id', '-g'], { uid: 65534, gid: 65534, stdout: 'pipe', logOutput: false });
  t.equal((await out(gid)).trim(), '65534', 'and the gid');

  // perl's own setting stays perl's: the tool's environment is what was asked for.
  const env = runner.spawn(['env'], { env: { COFFER_TEST_VAR: 'x y' }, stdout: 'pipe', logOutput: false });
  const vars = (await out(env)).split('\n');
  t.ok(vars.includes('COFFER_TEST_VAR=x y'), 'the environment given reaches the tool');
  t.notOk(vars.some((v) => v.startsWith('PERL_BADLANG=')), 'and nothing the wrapper needed for itself');

  const badLocale = runner.spawn(['sh', '-c', 'echo "$LC_ALL" >&2'], { env: { LC_ALL: 'xx_XX.UTF-8' } });
  t.same(await badLocale.exited, { code: 0, signal: null });
  t.equal(badLocale.outputTail(), 'xx_XX.UTF-8', "a locale that is not installed: the tool's stderr has no warning of perl's");

  // The status pipe is the wrapper's alone: the tool holds the descriptors
  // it held when spawned directly (0, 1, 2 and whatever this process
  // inherited without close-on-exec), nothing more.
  const descriptors = async (session: 'own' | undefined): Promise<string[]> => {
    const c = runner.spawn(['cat'], { session, stdin: 'pipe', stdout: 'ignore' });
    await waitFor('cat to run', async () => readFileSync(`/proc/${c.pid}/comm`, 'utf8').trim() === 'cat', 30_000);
    const fds = readdirSync(`/proc/${c.pid}/fd`).sort();
    c.stdin!.end();
    await c.exited;
    return fds;
  };
  t.same(await descriptors(undefined), await descriptors('own'), 'no descriptor of the wrapper reaches the tool');

  const missing = runner.spawn(['no-such-coffer-tool']);
  const exit = await missing.exited;
  t.same(exit, { code: null, signal: null }, 'a tool that is not there could not start, as before');
  t.match(missing.failure(exit).message, /^no-such-coffer-tool could not start: spawn no-such-coffer-tool ENOENT/, 'worded as before');
});

t.test('a group wrapper that is missing (a configured path that does not exist): every tool fails to start, saying why', async (t) => {
  const broken = new ProcessRunner(log, { groupWrapper: '/nonexistent/perl' });
  const child = broken.spawn(['true']);
  const exit = await child.exited;
  t.same(exit, { code: null, signal: null }, 'the tool could not start');
  t.match(child.failure(exit).message, /^true could not start: \/nonexistent\/perl, which starts every tool in a process group of its own .*cannot be run \(ENOENT\): install perl \(Debian's perl-base\)/);
  t.same(await broken.spawn(['true'], { session: 'own' }).exited, { code: 0, signal: null }, "a server in a session of its own does not need it");
});
