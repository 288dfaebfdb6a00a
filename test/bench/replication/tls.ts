// The deployment's CA for a replication bench, made with the real openssl
// (test/support/certs.ts): each datastore gets a serving pair (SAN
// 127.0.0.1), and the CA is copied where a datastore's OS user can read it
// (a by-hand replica's MASTER_SSL_CA / sslrootcert).
import { copyFileSync, chmodSync, rmSync } from 'node:fs';
import path from 'node:path';
import { makePki } from '../../support/certs.js';
import type { Teardown } from '../harness.js';

export interface BenchPki {
  /** The CA, mode 0644, under the bench's root. */
  readonly ca: string;
  /** The agent flags giving its datastore a serving pair of its own. */
  datastoreArgs(name: string): string[];
}

export function benchPki(td: Teardown, root: string): BenchPki {
  const pki = makePki('coffer-bench-pki-');
  td.teardown(() => rmSync(pki.dir, { recursive: true, force: true }));
  const ca = path.join(root, 'ca.pem');
  copyFileSync(pki.ca, ca);
  chmodSync(ca, 0o644);
  return {
    ca,
    datastoreArgs(name) {
      const { cert, key } = pki.issue(name, { server: true });
      return ['--datastore-tls-cert', cert, '--datastore-tls-key', key];
    },
  };
}
