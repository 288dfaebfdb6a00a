#!/usr/bin/env node
// Compiles the sources into dist/ (incrementally) before tap runs any test,
// so `npm test` and `npx tap FILE` never test a stale dist/: tests that
// start bin/coffer-agent or bin/coffer-control run the compiled code.
// tap runs this as its `before` program (.taprc); a failed build fails the run.
//
// tsc is skipped when nothing it reads has changed since its last clean run:
// even an incremental no-op tsc parses every source and declaration (~8 s of
// CPU), paid by every `npx tap` and twice by `make test`. "Changed" is by
// content (a sha256 over the path and bytes of every file under the compiled
// folders, tsconfig.json, package-lock.json and the TypeScript version), not by mtime, so
// checkouts, regenerated files and extracted archives are judged right. The
// fingerprint is written only after tsc succeeds.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const stamp = path.join(root, 'dist', '.build-inputs.sha256');
// What tsconfig.json compiles (its include) and what that imports (lib/).
const INPUT_DIRS = ['agent', 'control', 'strategies', 'proto/gen', 'cli', 'lib'];
// The lock file: new type declarations can turn a clean tree into a failing one.
const INPUT_FILES = ['tsconfig.json', 'package-lock.json', 'node_modules/typescript/package.json'];

function fingerprint() {
  const h = createHash('sha256');
  const add = (rel) => {
    h.update(`${rel}\0`);
    h.update(readFileSync(path.join(root, rel)));
    h.update('\0');
  };
  const walk = (rel) => {
    for (const e of readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) add(p);
    }
  };
  for (const d of INPUT_DIRS) if (existsSync(path.join(root, d))) walk(d);
  for (const f of INPUT_FILES) if (existsSync(path.join(root, f))) add(f);
  return h.digest('hex');
}

const before = fingerprint();
const built = existsSync(path.join(root, 'dist', '.tsbuildinfo')) && existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
if (built === before) process.exit(0);

rmSync(stamp, { force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  process.stderr.write(`build: tsc ${r.signal ? `was killed by ${r.signal}` : `exited with ${r.status}`}; not running tests on a stale dist/\n`);
  process.exit(1);
}
// What tsc compiled is what was read before it ran; a file edited meanwhile
// leaves a fingerprint that no longer matches, so the next run compiles again.
writeFileSync(stamp, `${before}\n`);
