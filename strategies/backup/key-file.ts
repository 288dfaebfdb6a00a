// The wrapping key's file format, read the same by the control (which
// creates the deployment's key) and by the agent (which is handed a copy):
// 32 raw bytes or 64 hex characters, readable by its owner only.
import { existsSync, readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { KEY_BYTES } from './key-wrap.js';

/** Reads the wrapping key, creating a random one (0600) if the file does not exist yet. */
export function loadWrappingKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(KEY_BYTES).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) throw new Error(`backup key file ${file} is readable by others (mode ${(statSync(file).mode & 0o777).toString(8)}); chmod 600 it`);
  const raw = readFileSync(file);
  const text = raw.toString('utf8').trim();
  if (new RegExp(`^[0-9a-fA-F]{${KEY_BYTES * 2}}$`).test(text)) return Buffer.from(text, 'hex');
  if (raw.length === KEY_BYTES) return raw;
  throw new Error(`backup key file ${file} must hold ${KEY_BYTES} raw bytes or ${KEY_BYTES * 2} hex characters`);
}
