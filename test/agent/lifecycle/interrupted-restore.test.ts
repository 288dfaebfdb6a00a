// What boot does with the data directory a killed restore set aside
// (agent/lifecycle/interrupted-restore.ts, crash-recovery.ts), on the
// filesystem only: these cases need no datastore to start. The real
// datastore's case, killed mid-restore, is restore-killed.test.ts.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../lib/logger.js';
import { layoutFor, type Layout } from '../../../agent/layout.js';
import { StateStore, type PersistedState } from '../../../agent/state.js';
import { OperationLock } from '../../../agent/lock.js';
import type { LifecycleContext } from '../../../agent/lifecycle/context.js';
import { recoverAtBoot } from '../../../agent/lifecycle/crash-recovery.js';
import { settleInterruptedRestore } from '../../../agent/lifecycle/interrupted-restore.js';
import { restoreInto } from '../../../agent/lifecycle/restore-swap.js';
import { processesUsing } from '../../../agent/lifecycle/orphan-tools.js';
import { agentEnv, tempBase, waitFor } from '../../support/agent.js';

const log = createLogger({ level: 'silent' });

/** A base dir with the agent's state and, as a killed restore leaves them, a data dir and its set-aside copy. */
function leftOver(state: Partial<PersistedState>, dirs: { data?: string; aside?: string }): { layout: Layout; ctx: LifecycleContext } {
  const layout = layoutFor(path.join(tempBase('coffer-interrupted-'), 'base'));
  mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });
  const store = new StateStore(layout.stateFile);
  store.update(state);
  for (const [dir, content] of [[layout.dataDir, dirs.data], [`${layout.dataDir}.pre-restore`, dirs.aside]] as const) {
    if (content === undefined) continue;
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'ibdata1'), content);
  }
  // Nothing in these cases may touch the datastore.
  const untouchable = new Proxy({}, { get: (_o, p) => { throw new Error(`the datastore was touched (${String(p)})`); } });
  return { layout, ctx: { manager: untouchable as never, supervisor: untouchable as never, state: store, layout, log } };
}

const dataOf = (layout: Layout) => readFileSync(path.join(layout.dataDir, 'ibdata1'), 'utf8');

t.test('a Prepare from a backup that was killed: FAILED as before, and its set-aside directory is removed', async (t) => {
  const { layout, ctx } = leftOver({ prepared: false, wantRunning: true, state: 'BUILDING' }, { data: 'half restored', aside: 'fresh datastore' });
  await recoverAtBoot(ctx, new OperationLock());
  t.equal(ctx.state.get().state, 'FAILED');
  t.match(ctx.state.get().reason, /run Prepare again/);
  t.notOk(existsSync(`${layout.dataDir}.pre-restore`), 'no <data>.pre-restore is left');
});

t.test('a restore into a stopped prepared instance that was killed: its data is put back and it stays stopped', async (t) => {
  const { layout, ctx } = leftOver({ prepared: true, wantRunning: false, state: 'BUILDING' }, { data: 'half restored', aside: 'the instance\'s data' });
  await recoverAtBoot(ctx, new OperationLock());
  t.equal(dataOf(layout), 'the instance\'s data', 'the data directory is the instance\'s own again');
  t.notOk(existsSync(`${layout.dataDir}.pre-restore`), 'no <data>.pre-restore is left');
  t.equal(ctx.state.get().state, 'SHUTDOWN');
  t.match(ctx.state.get().reason, /restore was rolled back/);
});

t.test('killed between setting the data aside and making the new directory: the data is put back', async (t) => {
  const { layout } = leftOver({ prepared: true }, { aside: 'the instance\'s data' });
  t.equal(settleInterruptedRestore(layout, true, log), 'rolled-back');
  t.equal(dataOf(layout), 'the instance\'s data');
});

t.test('a restore that had finished and was removing the old data: the half-removed copy goes, the data stays', async (t) => {
  const { layout } = leftOver({ prepared: true }, { data: 'restored' });
  mkdirSync(`${layout.dataDir}.pre-restore.discarded`);
  t.equal(settleInterruptedRestore(layout, true, log), 'none');
  t.notOk(existsSync(`${layout.dataDir}.pre-restore.discarded`), 'the discarded copy is removed');
  t.equal(dataOf(layout), 'restored', 'the data directory is left alone');
});

t.test('a restore refuses to start while a set-aside copy is still there (it may be the only copy of the data)', async (t) => {
  const { layout, ctx } = leftOver({ prepared: true }, { data: 'half restored', aside: 'the instance\'s data' });
  let filled = false;
  const plan = { logical: false, fill: async () => { filled = true; return 0; } };
  await t.rejects(restoreInto(ctx, plan, new AbortController().signal), { code: 'AGENT_ERR_NOT_READY' });
  t.notOk(filled, 'nothing was written');
  t.equal(readFileSync(path.join(`${layout.dataDir}.pre-restore`, 'ibdata1'), 'utf8'), 'the instance\'s data', 'the set-aside copy is untouched');
});

t.test('a restore tool an earlier agent left running is stopped before the data is put back (the tool is injected: a process naming the data directory)', async (t) => {
  const { layout, ctx } = leftOver({ prepared: true, wantRunning: false, state: 'BUILDING' }, { data: 'half restored', aside: 'the instance\'s data' });
  // Stands in for `mariadb-backup --move-back --datadir=<data>` outliving its agent.
  const tool = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', `--datadir=${layout.dataDir}`], { detached: true, stdio: 'ignore', env: agentEnv() });
  t.teardown(() => tool.kill('SIGKILL'));
  const exited = new Promise((resolve) => tool.once('exit', (_code, signal) => resolve(signal)));
  await waitFor('the tool running', async () => processesUsing([layout.dataDir]).includes(tool.pid!));
  await recoverAtBoot(ctx, new OperationLock());
  t.equal(await exited, 'SIGKILL', 'the tool was stopped');
  t.equal(dataOf(layout), 'the instance\'s data', 'the data is put back');
  t.equal(ctx.state.get().state, 'SHUTDOWN');
});

t.test('only command lines that name the instance\'s paths count', async (t) => {
  const { layout } = leftOver({}, {});
  const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '--', `--datadir=${layout.dataDir}-other`, `${layout.baseDir}/database`], { stdio: 'ignore', env: agentEnv() });
  t.teardown(() => other.kill('SIGKILL'));
  await waitFor('the process running', async () => existsSync(`/proc/${other.pid}/cmdline`) && readFileSync(`/proc/${other.pid}/cmdline`, 'utf8').includes('-other'));
  t.notOk(processesUsing([layout.dataDir]).includes(other.pid!), 'a sibling path is not the data directory');
});
