#!/usr/bin/env node
// Compiles the sources into dist/ (incrementally) before tap runs any test,
// so `npm test` and `npx tap FILE` never test a stale dist/: tests that
// start bin/coffer-agent or bin/coffer-control run the compiled code.
// tap runs this as its `before` program (.taprc); a failed build fails the run.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  process.stderr.write(`build: tsc ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.status}`}; not running tests on a stale dist/\n`);
  process.exit(1);
}
