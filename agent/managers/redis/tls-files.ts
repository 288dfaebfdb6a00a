// The files Redis's TLS needs, placed where the redis OS user reads them:
// the datastore's serving pair (../server-tls.ts, as MariaDB and PostgreSQL
// have it) and a copy of the deployment's CA, which a replica verifies its
// source's certificate with. Without a serving pair the instance offers no
// TLS (a plaintext port, as before TLS material existed) and nothing is
// left behind. Copied at every config write, so renewed files are taken at
// the next start.
import { chmodSync, chownSync, copyFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { OsUser } from '../../../lib/os-user.js';
import { installServerTls } from '../server-tls.js';

export interface RedisTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** The deployment's CA; undefined when the agent has none (then replication cannot verify a source). */
  readonly caFile?: string;
  /** The pair Redis presents on its own links to peers (Redis Cluster's bus checks it); undefined: the serving pair. */
  readonly clientCertFile?: string;
  readonly clientKeyFile?: string;
}

export function installRedisTls(
  etcDir: string,
  pair: { readonly cert: string; readonly key: string } | null,
  ca: string | null,
  redisUser: OsUser,
  peer: { readonly cert: string; readonly key: string } | null = null,
): RedisTlsFiles | undefined {
  const served = installServerTls(etcDir, pair, redisUser);
  if (!served) return undefined;
  const dir = path.dirname(served.certFile);
  const client = peer
    ? { clientCertFile: place(peer.cert, path.join(dir, 'peer.crt'), 0o644, redisUser), clientKeyFile: place(peer.key, path.join(dir, 'peer.key'), 0o640, redisUser) }
    : {};
  if (!ca) return { ...served, ...client };
  return { ...served, ...client, caFile: place(ca, path.join(dir, 'ca.crt'), 0o644, redisUser) };
}

/** Copies into place atomically, readable by the redis user's group, mode set before it is visible. */
function place(from: string, to: string, mode: number, redisUser: OsUser): string {
  const tmp = `${to}.tmp`;
  copyFileSync(from, tmp);
  chownSync(tmp, 0, redisUser.gid);
  chmodSync(tmp, mode);
  renameSync(tmp, to);
  return to;
}
