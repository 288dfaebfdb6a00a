// Heartbeats over the real network path: the real control (bin/coffer-control
// serve, test/support/control.ts) and its conductor on 127.0.0.1 with mutual
// TLS, and N simulated agents in separate processes (heartbeat-agents.ts),
// one grpc-js channel and one certificate per agent, issued by the control's
// own instances CA through the CA module's OpenSsl.issue (as
// CertificateAuthority.issueInstance issues an agent's identity). Rounds:
// every agent sends one heartbeat at once, the burst 10 s of N agents'
// heartbeats would be if they all fired together; heartbeats/s is N over
// the round's wall time, latencies are per call (client side, including
// queueing). The control's RSS and CPU are sampled across the rounds
// (/proc/<pid>/status and stat). Beside it, the in-process figure
// (BENCH_ONLY=control: the conductor's handler called without gRPC).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startControl } from '../support/control.js';
import { OpenSsl } from '../../control/ca/openssl.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { createLogger } from '../../lib/logger.js';
import { row, sampleRss, type Row, type Teardown } from './harness.js';
import type { BenchOptions } from './options.js';

const S = 'heartbeats-net';
const idOf = (i: number): string => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

interface Worker {
  readonly proc: ChildProcess;
  ask(cmd: string): Promise<number[]>;
}

function startWorker(env: NodeJS.ProcessEnv): Promise<Worker> {
  const proc = fork(path.join(import.meta.dirname, 'heartbeat-agents.ts'), [], {
    execArgv: ['--import', '@tapjs/typescript/import'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let waiting: { resolve: (v: number[]) => void; reject: (e: Error) => void } | null = null;
  proc.on('message', (m: { ok: boolean; ready?: boolean; latencies?: number[]; error?: string }) => {
    const w = waiting;
    waiting = null;
    if (!w) return;
    if (m.ok) w.resolve(m.latencies ?? []);
    else w.reject(new Error(m.error));
  });
  proc.once('exit', (code) => waiting?.reject(new Error(`heartbeat agents exited with ${code}`)));
  const ask = (cmd: string): Promise<number[]> =>
    new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      if (cmd) proc.send({ cmd });
    });
  return ask('').then(() => ({ proc, ask }));
}

export async function benchHeartbeatsNet(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const N = o.netAgents;
  const W = o.netWorkers;
  const ctl = await startControl(td);
  const pid = ctl.current!.proc.pid!;
  const caDir = path.join(ctl.dataDir, 'ca');
  const instancesCa = { cert: path.join(caDir, 'instances-ca.crt'), key: path.join(caDir, 'instances-ca.key') };
  const work = mkdtempSync(path.join(o.tmp ?? os.tmpdir(), 'coffer-bench-hb-'));
  td.teardown(() => rmSync(work, { recursive: true, force: true }));
  const openssl = new OpenSsl(new ProcessRunner(createLogger({ level: 'warn', destination: process.stderr })));
  const ids = Array.from({ length: N }, (_, i) => idOf(i));
  const t0 = Date.now();
  await pool(ids, 8, async (id) => {
    const dir = path.join(work, id);
    mkdirSync(dir);
    await openssl.issue(instancesCa, { name: id, days: 1 }, path.join(dir, 'instance.key'), path.join(dir, 'instance.crt'), dir);
  });
  console.log(`bench ${S}: ${N} agent certificates issued in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const workers: Worker[] = [];
  for (let w = 0; w < W; w++) {
    const slice = ids.filter((_, i) => i % W === w).map((id) => ({ id, cert: path.join(work, id, 'instance.crt'), key: path.join(work, id, 'instance.key') }));
    const env = { ...process.env, HEARTBEAT_AGENTS: JSON.stringify({ address: `127.0.0.1:${ctl.conductorPort}`, ca: path.join(caDir, 'control-ca.crt'), agents: slice }) };
    const worker = await startWorker(env);
    td.teardown(() => {
      if (worker.proc.exitCode === null) worker.proc.kill('SIGKILL');
    });
    workers.push(worker);
  }
  const idleRss = sampleRss(pid).stop().startMb;

  // Connect: every channel's TLS handshake and first heartbeat.
  const connectRss = sampleRss(pid);
  const c0 = process.hrtime.bigint();
  await Promise.all(workers.map((w) => w.ask('connect')));
  const connectSeconds = Number(process.hrtime.bigint() - c0) / 1e9;
  const cm = connectRss.stop();
  rows.push(row({ suite: S, name: `${N} agents connect (mTLS handshake) and send a first heartbeat, ${W} client processes`, seconds: connectSeconds, note: `control CPU ${cm.cpuSeconds.toFixed(2)} s; control RSS ${idleRss.toFixed(1)} MB before, ${cm.sampledPeakMb.toFixed(1)} MB peak` }));

  const rss = sampleRss(pid);
  const all: number[] = [];
  let seconds = 0;
  const rounds = o.rounds * 5;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    const lat = (await Promise.all(workers.map((w) => w.ask('round')))).flat();
    seconds += Number(process.hrtime.bigint() - t) / 1e9;
    all.push(...lat);
  }
  const m = rss.stop();
  const sorted = all.sort((a, b) => a - b);
  rows.push(
    row({
      suite: S,
      name: `${rounds} rounds x ${N} agents, each agent's heartbeat at once (open channels, mTLS, ${W} client processes)`,
      seconds,
      note:
        `${Math.round(all.length / seconds)} heartbeats/s; latency p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms over ${all.length} calls; ` +
        `control CPU ${m.cpuSeconds.toFixed(2)} s (${((m.cpuSeconds / seconds) * 100).toFixed(0)}% of a core), control RSS ${m.startMb.toFixed(1)} MB at start, peak ${Math.max(m.sampledPeakMb, m.hwmMb).toFixed(1)} MB`,
    }),
  );
  for (const w of workers) w.proc.send({ cmd: 'exit' });
  return rows;
}
