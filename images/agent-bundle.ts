// What of the repository goes into an image: the compiled agent and the
// layers it imports (dist/ of agent, lib, strategies, proto/gen), the data
// files they read at run time (rule tables, the descriptor set, the
// .proto files), the launcher, and the npm packages those files import,
// found by walking the imports and then each package's dependencies in the
// repository's node_modules (production dependencies only, and only the
// agent's: better-sqlite3, fastify and the rest of the control's stay out).
// No control/ or cli/ code is copied.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The compiled layers an agent runs (docs/architecture.md: agent imports strategies, lib, proto/gen). */
export const AGENT_LAYERS: readonly string[] = ['agent', 'lib', 'strategies', 'proto/gen'];
/** Source folders whose non-TypeScript files are read at run time (repoRoot()-relative). */
const DATA_DIRS: readonly string[] = ['agent', 'lib', 'strategies', 'proto'];

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

/** The package a bare specifier names: "@grpc/grpc-js/build/x" -> "@grpc/grpc-js"; null for node: and relative ones. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

// tsc's output: `import x from 'p'` and `export ... from 'p'` start a line;
// `import('p')`, `require('p')` and a createRequire'd `requireFromHere('p')`
// may be anywhere (the layers test refuses any other dynamic form).
const SPECIFIER = /^(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\brequire(?:FromHere)?\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The npm packages the compiled layers import. */
export function importedPackages(distDir: string, layers: readonly string[] = AGENT_LAYERS): Set<string> {
  const out = new Set<string>();
  for (const layer of layers) {
    for (const f of files(path.join(distDir, layer))) {
      if (!f.endsWith('.js')) continue;
      for (const m of readFileSync(f, 'utf8').matchAll(SPECIFIER)) {
        const pkg = packageOf((m[1] ?? m[2] ?? m[3] ?? m[4])!);
        if (pkg) out.add(pkg);
      }
    }
  }
  return out;
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * Every package directory (relative to the repository) needed to load
 * `roots`, resolved the way Node does: a package's own nested
 * node_modules first, then the top level. Nested directories are copied
 * with their parent package, so only top-level ones are listed.
 */
export function packageClosure(repo: string, roots: Iterable<string>): string[] {
  const top = path.join(repo, 'node_modules');
  const seen = new Set<string>();
  const visit = (pkgDir: string): void => {
    if (seen.has(pkgDir)) return;
    seen.add(pkgDir);
    const pj = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
    const required = Object.keys(pj.dependencies ?? {});
    const optional = [...Object.keys(pj.optionalDependencies ?? {}), ...Object.keys(pj.peerDependencies ?? {})];
    for (const [dep, must] of [...required.map((d) => [d, true] as const), ...optional.map((d) => [d, false] as const)]) {
      // Walk up the nested node_modules folders, as Node's resolution does.
      let found: string | null = null;
      for (let dir = pkgDir; dir.startsWith(top); dir = path.dirname(dir)) {
        const candidate = path.join(dir, 'node_modules', dep);
        if (existsSync(path.join(candidate, 'package.json'))) {
          found = candidate;
          break;
        }
      }
      if (!found && existsSync(path.join(top, dep, 'package.json'))) found = path.join(top, dep);
      if (!found) {
        if (must) throw new Error(`${path.relative(repo, pkgDir)} needs ${dep}, which is not in node_modules (run npm ci)`);
        continue;
      }
      visit(found);
    }
  };
  for (const pkg of roots) {
    const dir = path.join(top, pkg);
    if (!existsSync(path.join(dir, 'package.json'))) throw new Error(`the agent imports ${pkg}, which is not in node_modules (run npm ci)`);
    visit(dir);
  }
  // Only the outermost directories: a nested one comes with its parent.
  const dirs = [...seen].map((d) => path.relative(repo, d)).sort();
  return dirs.filter((d) => !dirs.some((o) => o !== d && d.startsWith(`${o}/node_modules/`)));
}

/**
 * Writes the agent's installation into `dest` (which becomes /opt/coffer/agent
 * in the image): package.json, bin/coffer-agent, dist/ of the agent's
 * layers, their data files, node_modules. Returns the packages copied.
 */
export function stageAgent(repo: string, dest: string): string[] {
  mkdirSync(dest, { recursive: true });
  const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
  // The root package.json marks the installation root (lib/repo-root.ts) and ESM.
  writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify({ name: `${pkg.name}-agent`, version: pkg.version, license: pkg.license, type: 'module', private: true }, null, 2)}\n`);
  cpSync(path.join(repo, 'bin', 'coffer-agent'), path.join(dest, 'bin', 'coffer-agent'));
  for (const layer of AGENT_LAYERS) {
    cpSync(path.join(repo, 'dist', layer), path.join(dest, 'dist', layer), { recursive: true, filter: (src) => !src.endsWith('.map') });
  }
  for (const dir of DATA_DIRS) {
    for (const f of files(path.join(repo, dir))) {
      if (f.endsWith('.ts')) continue;
      cpSync(f, path.join(dest, path.relative(repo, f)));
    }
  }
  const packages = packageClosure(repo, importedPackages(path.join(repo, 'dist')));
  for (const p of packages) cpSync(path.join(repo, p), path.join(dest, p), { recursive: true, dereference: true });
  return packages;
}
