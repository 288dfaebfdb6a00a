// A benchmark's scratch directory: removed at teardown, after the agents
// and datastores inside it have been stopped (teardown runs newest first).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchOptions } from './options.js';
import type { Teardown } from './harness.js';

export function benchRoot(td: Teardown, o: BenchOptions, prefix: string): string {
  const dir = mkdtempSync(path.join(o.tmp ?? os.tmpdir(), prefix));
  // The datastores' OS users must reach their base dirs inside it.
  chmodSync(dir, 0o755);
  td.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
