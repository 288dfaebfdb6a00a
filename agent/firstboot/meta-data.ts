// Reads a mounted config drive (lib/config-drive.ts: Nova's config-2
// layout) into the list of files to install, checking everything before
// anything is written: a drive is trusted to say what this instance is,
// never where in the guest it may write. Only paths under /etc/coffer, only
// regular files from openstack/content, each at most MAX_FILE_BYTES.
import { lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { META_DATA_PATH, GUEST_AGENT_CONFIG } from '../../lib/config-drive.js';

/** The one directory a config drive may write under. */
export const GUEST_CONFIG_ROOT = path.posix.dirname(GUEST_AGENT_CONFIG);
/** No file Coffer puts on a drive comes near this (a config, certificates, keys). */
export const MAX_FILE_BYTES = 1024 * 1024;
const MAX_FILES = 64;
/** As Nova writes them: "/content/0000". */
const CONTENT_PATH = /^\/content\/[0-9]{4,8}$/;

export class ConfigDriveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigDriveError';
  }
}

export interface DriveFile {
  /** Absolute guest path, under /etc/coffer. */
  readonly path: string;
  readonly content: Buffer;
}

export interface DriveContents {
  /** The instance id (meta_data.json's uuid). */
  readonly uuid: string;
  readonly files: readonly DriveFile[];
}

/** Is `p` an absolute, normalised path strictly under `root` (no "..", ".", "//")? */
export function isUnder(root: string, p: string): boolean {
  return p.startsWith(`${root}/`) && path.posix.normalize(p) === p && !p.endsWith('/') && !p.split('/').includes('..');
}

/** Everything the drive mounted at `mountDir` asks for, checked; throws ConfigDriveError naming what is wrong. */
export function readDrive(mountDir: string): DriveContents {
  const metaFile = path.join(mountDir, META_DATA_PATH);
  let text: string;
  try {
    text = readFileSync(metaFile, 'utf8');
  } catch (err) {
    throw new ConfigDriveError(`the config drive has no readable ${META_DATA_PATH} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (err) {
    throw new ConfigDriveError(`${META_DATA_PATH} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new ConfigDriveError(`${META_DATA_PATH} must hold a JSON object`);
  const { uuid, files } = meta as { uuid?: unknown; files?: unknown };
  if (typeof uuid !== 'string' || uuid === '') throw new ConfigDriveError(`${META_DATA_PATH} has no "uuid" (the instance id)`);
  if (!Array.isArray(files)) throw new ConfigDriveError(`${META_DATA_PATH} has no "files" list (Coffer's config arrives as files)`);
  if (files.length > MAX_FILES) throw new ConfigDriveError(`${META_DATA_PATH} lists ${files.length} files; at most ${MAX_FILES} are accepted`);

  const seen = new Set<string>();
  const out: DriveFile[] = [];
  files.forEach((entry: unknown, i: number) => {
    const where = `files[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigDriveError(`${where} must be an object with "path" and "content_path"`);
    const { path: guestPath, content_path: contentPath } = entry as { path?: unknown; content_path?: unknown };
    if (typeof guestPath !== 'string') throw new ConfigDriveError(`${where} has no "path"`);
    const shown = JSON.stringify(guestPath.slice(0, 200));
    if (!isUnder(GUEST_CONFIG_ROOT, guestPath)) {
      throw new ConfigDriveError(`${where}.path ${shown} is not a plain absolute path under ${GUEST_CONFIG_ROOT}/ (no "..", ".", "//" or trailing "/"): refused`);
    }
    if (seen.has(guestPath)) throw new ConfigDriveError(`${where}.path ${shown} is listed twice`);
    seen.add(guestPath);
    if (typeof contentPath !== 'string' || !CONTENT_PATH.test(contentPath)) {
      throw new ConfigDriveError(`${where}.content_path ${JSON.stringify(String(contentPath).slice(0, 200))} is not of the form /content/NNNN`);
    }
    const source = path.join(mountDir, 'openstack', contentPath);
    let st;
    try {
      st = lstatSync(source);
    } catch (err) {
      throw new ConfigDriveError(`${where}: its content openstack${contentPath} (for ${shown}) is missing from the drive (${(err as NodeJS.ErrnoException).code})`);
    }
    // A symbolic link on the drive (Rock Ridge has them) would read a file of the guest's own.
    if (!st.isFile()) throw new ConfigDriveError(`${where}: its content openstack${contentPath} is not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new ConfigDriveError(`${where}: its content openstack${contentPath} is ${st.size} bytes; at most ${MAX_FILE_BYTES} are accepted`);
    out.push({ path: guestPath, content: readFileSync(source) });
  });
  if (!seen.has(GUEST_AGENT_CONFIG)) throw new ConfigDriveError(`${META_DATA_PATH} lists no ${GUEST_AGENT_CONFIG}: the agent would have no configuration`);
  return { uuid, files: out };
}
