// The agent's resident memory, measured as the backup benches do (VmRSS and
// VmHWM of the agent process, /proc/<pid>/status): idle after Prepare (a
// MariaDB instance, heartbeating, its datastore supervised), the peak during
// a CreateBackup of a generated dataset and during a Restore of it into a
// second prepared instance, and idle again after the backup. Run once per
// set of node flags: BENCH_AGENT_FLAGS is a ';'-separated list of
// space-separated flag sets ("" = lib/agent-node-flags.ts's own), so flags
// are compared on the same machine, one after the other.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import type { RestoreResponse } from '../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { tempBase } from '../support/agent.js';
import { deployment, measuredBackup, preparedAgent } from './agents.js';
import { generate } from './mariadb.js';
import { row, sampleRss, timed, type Row, type Teardown } from './harness.js';
import type { BenchOptions } from './options.js';

const S = 'agent-memory';
const MB = 1e6;
const SETTLE_MS = 10_000;

function status(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = (Number(m[2]) * 1024) / MB;
  }
  return out;
}

const rssNote = (s: Record<string, number>): string => `VmRSS ${s.VmRSS!.toFixed(1)} MB (anonymous ${s.RssAnon!.toFixed(1)}, file-backed ${s.RssFile!.toFixed(1)})`;

export async function benchAgentMemory(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  for (const set of o.agentFlagSets) {
    const flags = set.length ? set : [...AGENT_NODE_FLAGS];
    const label = flags.join(' ');
    const root = tempBase('coffer-bench-mem-');
    // Registered first, so it runs after the agents' own teardowns have stopped them.
    td.teardown(() => rmSync(root, { recursive: true, force: true }));
    const { agentArgs } = deployment(root);
    const a = await preparedAgent(td, path.join(root, 'a'), 'mariadb', agentArgs, flags);
    await sleep(SETTLE_MS);
    const idle = status(a.proc.pid!);
    rows.push(row({ suite: S, name: `[${label}] idle agent after Prepare (MariaDB, ${SETTLE_MS / 1000} s settled)`, note: `${rssNote(idle)} (target <= 60 MB)` }));

    const gen = await generate(a.baseDir, o.memoryMb * MB);
    const b = await measuredBackup(a, `mem-${Date.now()}`);
    rows.push(row({ suite: S, name: `[${label}] CreateBackup of ${gen.bytes} B of .ibd (local store)`, seconds: b.seconds, peakRssMb: b.peakRssMb, note: `VmHWM ${b.mem.hwmMb.toFixed(1)} MB, sampled VmRSS max ${b.mem.sampledPeakMb.toFixed(1)} MB, RSS at start ${b.mem.startMb.toFixed(1)} MB, agent CPU ${b.mem.cpuSeconds.toFixed(1)} s (target peak <= 120 MB)` }));
    await sleep(SETTLE_MS);
    rows.push(row({ suite: S, name: `[${label}] idle agent ${SETTLE_MS / 1000} s after the backup`, note: rssNote(status(a.proc.pid!)) }));

    const r = await preparedAgent(td, path.join(root, 'b'), 'mariadb', agentArgs, flags);
    const rss = sampleRss(r.proc.pid!);
    const restored = await timed(
      () =>
        new Promise<RestoreResponse[]>((resolve, reject) => {
          const call = r.clients.backup.restore({ chain: [b.artifact], rewrapped: undefined });
          const out: RestoreResponse[] = [];
          call.on('data', (e: RestoreResponse) => out.push(e));
          call.on('error', reject);
          call.on('end', () => resolve(out));
        }),
    );
    const mem = rss.stop();
    if (restored.value.at(-1)?.result?.state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error('Restore did not end ACTIVE');
    rows.push(row({ suite: S, name: `[${label}] Restore of that backup into a second prepared instance`, seconds: restored.seconds, peakRssMb: Math.max(mem.sampledPeakMb, mem.hwmMb), note: `VmHWM ${mem.hwmMb.toFixed(1)} MB, sampled VmRSS max ${mem.sampledPeakMb.toFixed(1)} MB, RSS at start ${mem.startMb.toFixed(1)} MB, agent CPU ${mem.cpuSeconds.toFixed(1)} s (target peak <= 120 MB)` }));
    await r.stop();
    await a.stop();
  }
  return rows;
}
