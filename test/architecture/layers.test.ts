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

/**
 * Forbidden imports that other work in progress removes; each entry is
 * "file -> imported file" (paths from the repository root). Removed when the
 * boot and storage branches land.
 */
const ALLOWED_FOR_NOW: ReadonlySet<string> = new Set([
  'control/compute/local.ts -> agent/node-flags.ts',
  'control/config.ts -> agent/layout.ts',
  'control/backup-settings.ts -> agent/backup/backup-settings.ts',
  'control/service/backups.ts -> agent/backup/metadata-codec.ts',
]);

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
function violations(root: string, allowed: ReadonlySet<string> = new Set()): string[] {
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
        if (allowed.has(`${file} -> ${to}`)) continue;
        out.push(`${file}:${ref.line} -> ${to} (${layer}/ must not import ${layerOf(to)}/)`);
      }
    }
  }
  return out;
}

const root = repoRoot();

t.test('no folder imports a layer it must not', async (t) => {
  t.same(violations(root, ALLOWED_FOR_NOW), [], 'forbidden imports');
});

t.test('every allowed-for-now import still exists (delete the entry once it is gone)', async (t) => {
  const all = new Set(violations(root).map((v) => v.replace(/:\d+ -> /, ' -> ').replace(/ \(.*\)$/, '')));
  for (const pair of ALLOWED_FOR_NOW) t.ok(all.has(pair), pair);
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
