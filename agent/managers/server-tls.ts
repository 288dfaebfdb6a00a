// TLS for a datastore's clients, from the datastore's own serving pair
// (issued by the deployment's CA for this instance, good for serving TLS
// only; never the agent's identity key, which stays root-only). The server
// runs as its own OS user and must read the key: the agent keeps a copy under
// etc/tls, root-owned, group of the datastore's user, 0640 (postgres accepts
// a key so owned, and mysqld only needs to read it). Anyone who can act as
// that user (a tenant's superuser can read files as it) can read the key,
// which is why it is a pair of its own. Copied at every config write, so a
// renewed certificate is taken at the next start.
import { chmodSync, chownSync, copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { OsUser } from '../../lib/os-user.js';

export interface ServerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Places the datastore's pair, or, without one, removes any copy an earlier
 * configuration left (a server offering no TLS keeps no key readable by its
 * user). Returns the files to name in the server's config, if any.
 */
export function installServerTls(etcDir: string, source: { readonly cert: string; readonly key: string } | null, serverUser: OsUser): ServerTlsFiles | undefined {
  const dir = path.join(etcDir, 'tls');
  if (!source) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chownSync(dir, 0, serverUser.gid);
  chmodSync(dir, 0o750);
  const files = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
  place(source.cert, files.certFile, 0o644, serverUser);
  place(source.key, files.keyFile, 0o640, serverUser);
  return files;
}

/** Copies into place atomically, with the mode set before the file is visible. */
function place(from: string, to: string, mode: number, serverUser: OsUser): void {
  const tmp = `${to}.tmp`;
  copyFileSync(from, tmp);
  chownSync(tmp, 0, serverUser.gid);
  chmodSync(tmp, mode);
  renameSync(tmp, to);
}
