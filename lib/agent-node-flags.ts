// The V8 flags the agent runs with, wherever it is started: the launcher's
// shebang (bin/coffer-agent, kept equal by test/lib/agent-node-flags.test.ts),
// the control's local compute driver and the test harness. Part of how an
// agent is launched, so it lives where the launcher and the agent both see it.
// Each was measured on an idle and a backing-up agent (`BENCH_ONLY=agent-memory`,
// docs/performance.md):
//
// --max-semi-space-size=1 (MiB): V8 grows the young generation up to 3 x 16
// MiB while modules load and while backups stream, and never gives it back,
// which alone took an idle agent from ~93 to ~124 MB RSS. The extra
// scavenges cost nothing measurable in the backup bench, whose data lives
// off-heap in Buffers.
// --max-old-space-size=128 (MiB): a bound, not a saving (the idle heap is
// ~20 MB): an agent whose heap grew past it would be far over its memory
// budget anyway, and V8 sizes its heap growth to the limit.
// --optimize-for-size, --v8-pool-size=1: smaller compiled code and one V8
// helper thread instead of one per core; with the bound above, idle 75.0 to
// 67.7 MB and the backup's peak 113.0 to 105.6 MB in the same bench.
// --expose-gc: lets the agent collect once when it falls idle after an
// operation (lib/idle-gc.ts); without it the dead Buffers of a backup kept
// the idle agent at ~105 MB instead of ~68 MB until V8's next full GC. It
// also lets the backup and restore data paths run a young-generation
// collection every few MiB (lib/young-gc.ts).
// --heap-growing-percent=100: after a mark-compact V8 sets the next one's
// trigger at the live heap times a growing factor, which the two flags above
// hold at 1.3 (~5 MB over a ~17 MB heap); V8 counts the Buffers' memory
// outside the heap against that margin, so a backup or restore ran a full
// mark-compact every 10 to 15 MB it moved (12 to 17 per 110 MB). With 2.0
// and lib/young-gc.ts: 1 to 3 per backup or restore, the agent's CPU for
// them 1.7 to 1.8 s down to 0.9 to 1.1 s, their peaks 108 to 120 MB down
// to 83 to 94 MB, idle unchanged (70.1 MB; docs/performance.md, issue 16).
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze([
  '--max-semi-space-size=1',
  '--max-old-space-size=128',
  '--optimize-for-size',
  '--v8-pool-size=1',
  '--expose-gc',
  '--heap-growing-percent=100',
]);
