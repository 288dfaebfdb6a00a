// The V8 flags the agent runs with, wherever it is started: the launcher's
// shebang (bin/coffer-agent, kept equal by test/lib/agent-node-flags.test.ts),
// the control's local compute driver and the test harness. Part of how an
// agent is launched, so it lives where the launcher and the agent both see it.
//
// --max-semi-space-size=1 (MiB): V8 grows the young generation up to 3 x 16
// MiB while modules load and while backups stream, and never gives it back,
// which alone took an idle agent from ~93 to ~124 MB RSS (measured with
// /proc/<pid>/status on an idle --insecure agent). The agent's budget is 150
// MB during a backup; the extra scavenges cost nothing measurable in the
// backup bench (docs/performance.md), whose data lives off-heap in Buffers.
//
// --no-incremental-marking: with it on, V8 started an incremental marking
// task every few hundred ms while a backup streamed (each ending in a
// mark-compact of the ~17 MB heap: 5 to 10 per 100 MB stored, with the old
// generation far below its limit, 17 of 26 MB, --trace-gc-verbose), about
// half of the agent's CPU per backup. Without it a full collection comes
// only at the old generation's limit or under external (Buffer) memory
// pressure, both bounded as before; none happened during a 48 MB backup,
// the agent's CPU for it went from 0.42-0.56 s to 0.26 s, its peak RSS was
// unchanged (docs/performance.md). A full collection of this heap is a
// pause of tens of ms, which nothing in the agent notices.
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--no-incremental-marking']);
