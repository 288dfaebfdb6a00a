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
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1']);
