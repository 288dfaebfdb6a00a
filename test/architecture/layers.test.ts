// Locks the import rules between the top-level folders: agent and control
// meet only through proto/, strategies/ hold what no datastore and no side
// owns, lib/ is the bottom layer, and the CLI talks to the control over gRPC
// only. Every module reference counts: static imports and re-exports, type
// imports, `import('x')` in code and in types, and require(); a dynamic
// import of something that is not a string literal cannot be checked and is
// refused too.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../../lib/repo-root.js';

const LAYERS = ['agent', 'control', 'strategies', 'lib', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

/** What each folder must not import. */
const FORBIDDEN: Readonly<Record<Layer, readonly string[]>> = {
  control: ['agent'],
  strategies: ['agent', 'control', 'cli'],
  lib: ['agent', 'control', 'strategies', 'cli'],
  cli: ['agent', 'control', 'strategies'],
  agent: ['control', 'cli'],
};

interface ModuleReference {
  /** The string as written, or undefined for a dynamic import of an expression. */
  readonly specifier: string | undefined;
  readonly line: number;
}

/** Every module a TypeScript file refers to, with the line it does so on. */
function moduleReferences(fileName: string, text: string): ModuleReference[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: ModuleReference[] = [];
  const add = (node: ts.Node, expr: ts.Node | undefined): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    found.push({ specifier: expr && ts.isStringLiteralLike(expr) ? expr.text : undefined, line });
  };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      add(node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
      else if (ts.isIdentifier(callee) && /^require/i.test(callee.text) && node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0]!)) {
        add(node, node.arguments[0]);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function* tsFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (entry.isFile() && entry.name.endsWith('.ts')) yield path;
  }
}

const layerOf = (path: string): string => path.split('/')[0]!;

/** The repository path a relative specifier names, with .js written as the .ts it compiles from. */
function target(root: string, fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const abs = resolve(dirname(join(root, fromFile)), specifier);
  return relative(root, abs).split(sep).join('/').replace(/\.js$/, '.ts');
}

/** Every forbidden import in the tree, as "file:line -> imported (rule)". */
function violations(root: string): string[] {
  const out: string[] = [];
  for (const layer of LAYERS) {
    for (const abs of tsFiles(join(root, layer))) {
      const file = relative(root, abs).split(sep).join('/');
      for (const ref of moduleReferences(file, readFileSync(abs, 'utf8'))) {
        if (ref.specifier === undefined) {
          out.push(`${file}:${ref.line} -> a dynamic import of an expression (write the module as a string so its layer can be checked)`);
          continue;
        }
        const to = target(root, file, ref.specifier);
        if (to === undefined) continue;
        if (!FORBIDDEN[layer].includes(layerOf(to))) continue;
        out.push(`${file}:${ref.line} -> ${to} (${layer}/ must not import ${layerOf(to)}/)`);
      }
    }
  }
  return out;
}

const root = repoRoot();

t.test('no folder imports a layer it must not', async (t) => {
  t.same(violations(root), [], 'forbidden imports');
});

t.test('every kind of module reference is seen', async (t) => {
  const text = [
    "import { a } from '../agent/a.js';",
    "import type { B } from '../agent/b.js';",
    "export { c } from '../agent/c.js';",
    "export * from '../agent/d.js';",
    "import '../agent/e.js';",
    "const f = await import('../agent/f.js');",
    "type G = typeof import('../agent/g.js');",
    "import h = require('../agent/h.js');",
    "const i = requireFromHere('../agent/i.js');",
    'const j = await import(name);',
    "// import { k } from '../agent/k.js';",
    "const l = 'not an import from \\'../agent/l.js\\'';",
  ].join('\n');
  t.same(
    moduleReferences('control/x.ts', text).map((r) => [r.specifier, r.line]),
    [
      ['../agent/a.js', 1],
      ['../agent/b.js', 2],
      ['../agent/c.js', 3],
      ['../agent/d.js', 4],
      ['../agent/e.js', 5],
      ['../agent/f.js', 6],
      ['../agent/g.js', 7],
      ['../agent/h.js', 8],
      ['../agent/i.js', 9],
      [undefined, 10],
    ],
  );
});

/** The modules that start processes, and the only files that may import them (docs/architecture.md: lib/process-runner.ts and its pty sibling). */
const SPAWNING_MODULES = ['child_process', 'node:child_process', 'execa', 'node-pty'];
const SPAWNERS = ['lib/process-runner.ts', 'lib/pty-process.ts'];

t.test('only the process runner starts processes', async (t) => {
  const out: string[] = [];
  for (const layer of LAYERS) {
    for (const abs of tsFiles(join(root, layer))) {
      const file = relative(root, abs).split(sep).join('/');
      if (SPAWNERS.includes(file)) continue;
      for (const ref of moduleReferences(file, readFileSync(abs, 'utf8'))) {
        if (ref.specifier && SPAWNING_MODULES.includes(ref.specifier)) out.push(`${file}:${ref.line} -> ${ref.specifier} (start processes through lib/process-runner.ts)`);
      }
    }
  }
  t.same(out, [], 'modules that spawn, imported outside the process runner');
  t.ok(SPAWNERS.every((f) => moduleReferences(f, readFileSync(join(root, f), 'utf8')).some((r) => SPAWNING_MODULES.includes(r.specifier ?? ''))), 'the runner itself is seen importing them (the check can fail)');
});
