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
}

export function installRedisTls(
  etcDir: string,
  pair: { readonly cert: string; readonly key: string } | null,
  ca: string | null,
  redisUser: OsUser,
): RedisTlsFiles | undefined {
  const served = installServerTls(etcDir, pair, redisUser);
  if (!served) return undefined;
  if (!ca) return served;
  const caFile = path.join(path.dirname(served.certFile), 'ca.crt');
  const tmp = `${caFile}.tmp`;
  copyFileSync(ca, tmp);
  chownSync(tmp, 0, redisUser.gid);
  chmodSync(tmp, 0o644);
  renameSync(tmp, caFile);
  return { ...served, caFile };
}
