// Replication lag under a steady write load, measured against what the
// replica's agent reports. A writer puts a row holding its send time
// (ms since the epoch) on the source every `everyMs`; a reader polls the
// replica for the newest row it has and, for every row that became
// visible, takes (time seen - time written) as the measured delay; a
// sampler reads GetStatus.replication.lag_seconds and lag_bytes from the
// replica's agent every 250 ms. Source, replica and bench share a clock
// (one machine), so the delays need no clock correction.
import { call, type AgentProcess } from '../../support/agent.js';
import type { GetStatusResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';

export interface LagProbe {
  /** Writes row `id` holding `writtenAt` on the source; resolves once acknowledged. */
  write(id: number, writtenAt: number): Promise<void>;
  /** The newest row on the replica: its id and written time, or null when none. */
  newest(): Promise<{ id: number; writtenAt: number } | null>;
  close(): Promise<void>;
}

export interface LagResult {
  readonly writes: number;
  readonly measured: Summary;
  readonly reportedSeconds: Summary;
  readonly reportedBytes: Summary;
  /** Samples where the agent said it could not tell (-1). */
  readonly unknownSamples: number;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export function summary(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN);
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.length ? s.at(-1)! : NaN };
}

export async function measureLag(probe: LagProbe, replica: AgentProcess, o: { seconds: number; everyMs: number }): Promise<LagResult> {
  const end = Date.now() + o.seconds * 1000;
  let writes = 0;
  let lastId = 0;
  const writer = (async () => {
    for (let id = 1; Date.now() < end; id++) {
      const next = Date.now() + o.everyMs;
      await probe.write(id, Date.now());
      writes++;
      lastId = id;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  const delays: number[] = [];
  let seenId = 0;
  let writerDone = false;
  const reader = (async () => {
    // Until every written row has been seen (after the writer stops).
    while (!writerDone || seenId < lastId) {
      if (Date.now() > end + 120_000) throw new Error(`the replica showed row ${seenId} of ${lastId} two minutes after the writes ended`);
      const n = await probe.newest();
      const now = Date.now();
      if (n && n.id > seenId) {
        // Rows in between became visible in the same poll: each one's delay
        // is measured from its own write (about everyMs apart).
        for (let id = seenId + 1; id <= n.id; id++) delays.push((now - (n.writtenAt - (n.id - id) * o.everyMs)) / 1000);
        seenId = n.id;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const secs: number[] = [];
  const bytes: number[] = [];
  let unknown = 0;
  const sampler = (async () => {
    while (Date.now() < end) {
      const st = await call<object, GetStatusResponse>(replica.clients.lifecycle, 'getStatus', {});
      const r = st.replication;
      if (!r || r.lagSeconds < 0 || r.lagBytes < 0) unknown++;
      if (r && r.lagSeconds >= 0) secs.push(r.lagSeconds);
      if (r && r.lagBytes >= 0) bytes.push(r.lagBytes);
      await new Promise((res) => setTimeout(res, 250));
    }
  })();
  await writer;
  writerDone = true;
  await Promise.all([reader, sampler]);
  await probe.close();
  return { writes, measured: summary(delays), reportedSeconds: summary(secs), reportedBytes: summary(bytes), unknownSamples: unknown };
}

export function lagNote(r: LagResult, bytesUnit: string): string {
  const f = (s: Summary, d = 3) => `p50 ${s.p50.toFixed(d)}, p95 ${s.p95.toFixed(d)}, max ${s.max.toFixed(d)} (${s.n} samples)`;
  return (
    `${r.writes} writes; measured delay s: ${f(r.measured)}; reported lag_seconds: ${f(r.reportedSeconds)}; ` +
    `reported lag_bytes (${bytesUnit}): ${f(r.reportedBytes, 0)}; samples with lag unknown (-1): ${r.unknownSamples}`
  );
}
