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
//
// `--lint` (make test): type-checks with `tsc -p tsconfig.test.json` (the
// tests with every source they drive, the same compiler options) while a
// second tsc emits dist/ with `--noCheck` (the same output byte for byte,
// without checking the sources a second time); both run at once, on two
// cores, and the fingerprint is written only when both succeed. Run alone,
// this is `make lint`'s type check plus `make build` in about the time of
// the longer of the two.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const stamp = path.join(root, 'dist', '.build-inputs.sha256');
// What tsconfig.json compiles (its include) and what that imports (lib/).
const INPUT_DIRS = ['agent', 'control', 'strategies', 'proto/gen', 'cli', 'lib', 'ui'];
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

const lint = process.argv.includes('--lint');
const before = fingerprint();
const built = existsSync(path.join(root, 'dist', '.tsbuildinfo')) && existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
const emitNeeded = built !== before;
if (!emitNeeded && !lint) process.exit(0);

const tscRun = (what, args) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, ...args], { stdio: 'inherit', cwd: root });
    child.on('error', (err) => resolve(`${what}: tsc could not start: ${err.message}`));
    child.on('exit', (code, signal) => resolve(code === 0 ? '' : `${what}: tsc ${signal ? `was killed by ${signal}` : `exited with ${code}`}`));
  });

if (emitNeeded) rmSync(stamp, { force: true });
const failures = (
  await Promise.all([
    emitNeeded ? tscRun('build', ['-p', path.join(root, 'tsconfig.json'), ...(lint ? ['--noCheck'] : [])]) : '',
    lint ? tscRun('type check (tsconfig.test.json)', ['-p', path.join(root, 'tsconfig.test.json')]) : '',
    // The dashboard's browser modules (ui/tsconfig.json: lib dom, ES modules).
    emitNeeded ? tscRun('dashboard (ui/tsconfig.json)', ['-p', path.join(root, 'ui', 'tsconfig.json')]) : '',
  ])
).filter(Boolean);
if (failures.length) {
  process.stderr.write(`${failures.join('; ')}; not running tests on a stale or unchecked dist/\n`);
  process.exit(1);
}
// The dashboard's page and style sheet beside its modules (served at /ui/).
if (emitNeeded) cpSync(path.join(root, 'ui', 'public'), path.join(root, 'dist', 'ui'), { recursive: true });
// What tsc compiled is what was read before it ran; a file edited meanwhile
// leaves a fingerprint that no longer matches, so the next run compiles again.
if (emitNeeded) writeFileSync(stamp, `${before}\n`);
