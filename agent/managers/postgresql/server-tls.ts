// TLS for PostgreSQL's clients, from the certificate the agent itself serves
// gRPC with (issued by the deployment's CA for this instance). postgres reads
// its key only if the key is owned by it or by root with no access for
// others, so the agent keeps a copy under etc/tls: root-owned, group
// postgres, 0640. Copied at every config write, so a renewed certificate is
// taken at the next start.
import { chmodSync, chownSync, copyFileSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { OsUser } from '../../../lib/os-user.js';

export interface ServerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export function installServerTls(etcDir: string, source: { readonly cert: string; readonly key: string }, pgUser: OsUser): ServerTlsFiles {
  const dir = path.join(etcDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  chownSync(dir, 0, pgUser.gid);
  chmodSync(dir, 0o750);
  const files = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
  place(source.cert, files.certFile, 0o644, pgUser);
  place(source.key, files.keyFile, 0o640, pgUser);
  return files;
}

/** Copies into place atomically, with the mode set before the file is visible. */
function place(from: string, to: string, mode: number, pgUser: OsUser): void {
  const tmp = `${to}.tmp`;
  copyFileSync(from, tmp);
  chownSync(tmp, 0, pgUser.gid);
  chmodSync(tmp, mode);
  renameSync(tmp, to);
}
