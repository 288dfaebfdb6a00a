// Local directory storage, the default: one file per object under a root
// directory, written to a hidden temporary name and renamed into place only
// when the stream ends cleanly, with its metadata in a hidden JSON sidecar
// beside it (".<name>.meta.json", mode 0600). The location recorded with a
// backup is the path relative to the root.
import { randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, realpath, rename, rm, stat as fsStat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { AbandonedOptions, ObjectSink, ObjectStorage, SaveOptions, SavedObject, StoredObject } from './storage.js';
import { checkKey, checkPrefix } from './keys.js';
import { checkMetadata, type Metadata } from './metadata.js';
import { createObjectSink, type Upload, type Written } from './object-sink.js';
import { badLocation, isCofferError, objectMissing, reason, storageFailed } from './errors.js';

export interface LocalStorageOptions {
  /** Directory that holds every object; created (mode 0700) on first save. */
  readonly root: string;
}

interface Sidecar {
  readonly version: 1;
  readonly size: number;
  readonly sha256: string;
  readonly metadata: Metadata;
}

const sidecarPath = (file: string): string => path.join(path.dirname(file), `.${path.basename(file)}.meta.json`);

/**
 * Where an upload writes before its commit: hidden, beside the final name,
 * with a tag per upload. PARTIAL reads the final name back out of it.
 */
const partialPath = (file: string, tag: string): string => path.join(path.dirname(file), `.${path.basename(file)}.partial-${tag}`);
const PARTIAL = /^\.(.+)\.partial-[0-9a-f]{12}$/;

const WRITE_BLOCK = 1024 * 1024;

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

export class LocalStorage implements ObjectStorage {
  readonly name = 'local';
  private readonly root: string;

  constructor(opts: LocalStorageOptions) {
    if (!opts.root) throw new TypeError('local storage needs a root directory');
    this.root = path.resolve(opts.root);
  }

  save(key: string, opts: SaveOptions): ObjectSink {
    const file = this.pathOf(key);
    const metadata = checkMetadata(opts.metadata);
    return createObjectSink(new LocalUpload(this.root, key, file, metadata), {
      describe: `local object ${key}`,
      signal: opts.signal,
    });
  }

  async open(location: string, opts: { signal?: AbortSignal } = {}): Promise<StoredObject> {
    const file = await this.existingPathOf(location);
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: a symlink planted at the object's name must not lead out of the root.
      fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      throw this.readError('open', location, err);
    }
    try {
      const [info, sidecar] = await Promise.all([fh.stat(), this.readSidecar(file, location)]);
      const stream = createReadStream('', { fd: fh, signal: opts.signal });
      return { stream, size: info.size, metadata: sidecar.metadata };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async stat(location: string): Promise<{ size: number; metadata: Metadata }> {
    const file = await this.existingPathOf(location);
    let size: number;
    try {
      size = (await fsStat(file)).size;
    } catch (err) {
      throw this.readError('stat', location, err);
    }
    return { size, metadata: (await this.readSidecar(file, location)).metadata };
  }

  async delete(location: string): Promise<void> {
    const file = this.pathOf(location);
    try {
      await rm(file, { force: true });
      await rm(sidecarPath(file), { force: true });
    } catch (err) {
      throw storageFailed(`local: delete of ${location} failed: ${reason(err)}`, err);
    }
  }

  locationOf(key: string): string {
    return checkKey(key, 'local object key');
  }

  async removeAbandoned(keyPrefix: string, opts: AbandonedOptions = {}): Promise<string[]> {
    checkPrefix(keyPrefix, 'local key prefix');
    // "a/b/" is everything below a/b; "a/b" the names in a/ starting with b.
    const folder = keyPrefix.endsWith('/');
    const target = this.pathOf(folder ? keyPrefix.slice(0, -1) : keyPrefix);
    const dir = folder ? target : path.dirname(target);
    const namePrefix = folder ? '' : path.basename(target);
    const removed: string[] = [];
    try {
      await insideRoot(this.root, dir, keyPrefix);
      // Recursive listings report symlinked folders as links and do not enter them.
      const entries = await readdir(dir, { withFileTypes: true, recursive: folder });
      for (const e of entries) {
        const m = PARTIAL.exec(e.name);
        if (!e.isFile() || !m || !m[1]!.startsWith(namePrefix)) continue;
        const file = path.join(e.parentPath, e.name);
        const info = await lstat(file).catch(() => null);
        if (!info?.isFile() || (opts.startedBefore !== undefined && info.mtimeMs >= opts.startedBefore)) continue;
        await rm(file, { force: true });
        removed.push(path.relative(this.root, file));
      }
    } catch (err) {
      if (isMissing(err)) return removed;
      if (isCofferError(err)) throw err;
      throw storageFailed(`local: removing abandoned uploads under ${keyPrefix} failed: ${reason(err)}`, err);
    }
    return removed;
  }

  /** The absolute path of a key; refuses keys that would leave the root. */
  private pathOf(key: string): string {
    checkKey(key, 'local object key');
    const file = path.resolve(this.root, key);
    if (!file.startsWith(this.root + path.sep)) throw badLocation(`local object key ${JSON.stringify(key)} escapes the storage root`);
    return file;
  }

  /** Like pathOf, and also refuses a directory symlinked out of the root. */
  private async existingPathOf(location: string): Promise<string> {
    const file = this.pathOf(location);
    await insideRoot(this.root, path.dirname(file), location).catch((err: unknown) => {
      throw isMissing(err) ? objectMissing(`local object ${location} does not exist`) : err;
    });
    return file;
  }

  private async readSidecar(file: string, location: string): Promise<Sidecar> {
    try {
      return JSON.parse(await readFile(sidecarPath(file), 'utf8')) as Sidecar;
    } catch (err) {
      throw this.readError('read metadata of', location, err);
    }
  }

  private readError(op: string, location: string, err: unknown): Error {
    if (isMissing(err)) return objectMissing(`local object ${location} does not exist`);
    return storageFailed(`local: ${op} ${location} failed: ${reason(err)}`, err);
  }
}

/** Throws unless `dir`, with symlinks resolved, lies inside `root`. */
async function insideRoot(root: string, dir: string, key: string): Promise<void> {
  const [realRoot, realDir] = await Promise.all([realpath(root), realpath(dir)]);
  if (realDir !== realRoot && !realDir.startsWith(realRoot + path.sep)) {
    throw badLocation(`local object key ${JSON.stringify(key)} leads through a symlink out of the storage root`);
  }
}

/** One object being written: a hidden temp file renamed into place on commit. */
class LocalUpload implements Upload {
  private fh: FileHandle | null = null;
  // Writes go to the file a block at a time: the pipeline hands over 64 KiB
  // pieces, and a write call for each cost the agent more CPU than the
  // encryption did (docs/performance.md). One block per upload, reused.
  private blockBuffer: Buffer | undefined;
  private filled = 0;
  private readonly temp: string;
  private readonly sidecarTemp: string;

  constructor(
    private readonly root: string,
    private readonly key: string,
    private readonly file: string,
    private readonly metadata: Metadata,
  ) {
    const tag = randomBytes(6).toString('hex');
    this.temp = partialPath(file, tag);
    this.sidecarTemp = partialPath(`${file}.meta.json`, tag);
  }

  async write(chunk: Buffer): Promise<void> {
    const fh = await this.opened();
    if (this.filled === 0 && chunk.length >= WRITE_BLOCK) return this.writeAll(fh, chunk);
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, WRITE_BLOCK - this.filled);
      chunk.copy(this.block(), this.filled, off, off + n);
      this.filled += n;
      off += n;
      if (this.filled === WRITE_BLOCK) await this.flushBlock(fh);
    }
  }

  private async flushBlock(fh: FileHandle): Promise<void> {
    const n = this.filled;
    this.filled = 0;
    if (n > 0) await this.writeAll(fh, this.block().subarray(0, n));
  }

  private block(): Buffer {
    return (this.blockBuffer ??= Buffer.allocUnsafe(WRITE_BLOCK));
  }

  private async writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
    let offset = 0;
    while (offset < buf.length) offset += (await fh.write(buf, offset)).bytesWritten;
  }

  async commit(written: Written): Promise<SavedObject> {
    const fh = await this.opened();
    try {
      await this.flushBlock(fh);
      await fh.sync();
      await fh.close();
      this.fh = null;
      const sidecar: Sidecar = { version: 1, size: written.size, sha256: written.sha256, metadata: this.metadata };
      await writeFile(this.sidecarTemp, JSON.stringify(sidecar) + '\n', { mode: 0o600, flag: 'wx' });
      await rename(this.sidecarTemp, sidecarPath(this.file));
      // The data rename is the commit point: before it, the key does not exist.
      await rename(this.temp, this.file);
      await syncDir(path.dirname(this.file));
    } catch (err) {
      throw storageFailed(`local: committing ${this.key} failed: ${reason(err)}`, err);
    }
    return { storage: 'local', location: this.key, size: written.size, sha256: written.sha256 };
  }

  async abort(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => {});
    try {
      await rm(this.temp, { force: true });
      await rm(this.sidecarTemp, { force: true });
    } catch (err) {
      throw storageFailed(`local: could not remove partial file ${this.temp}: ${reason(err)}`, err);
    }
  }

  private async opened(): Promise<FileHandle> {
    if (this.fh) return this.fh;
    const dir = path.dirname(this.file);
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await insideRoot(this.root, dir, this.key);
      // wx: never reuse a file someone else created under our temp name.
      this.fh = await open(this.temp, 'wx', 0o600);
    } catch (err) {
      if (isCofferError(err)) throw err;
      throw storageFailed(`local: creating ${this.key} under ${this.root} failed: ${reason(err)}`, err);
    }
    return this.fh;
  }
}

/** fsync a directory so a rename in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
