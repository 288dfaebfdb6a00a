// Test certificates made with the real openssl program: a CA, and leaf
// certificates signed by it (server and client), in a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Pki {
  dir: string;
  ca: string;
  caKey: string;
  /** `dns`: extra DNS names of a server certificate (e.g. coffer-control). */
  issue(name: string, opts?: { server?: boolean; dns?: string[] }): { cert: string; key: string };
}

export function makePki(prefix = 'coffer-pki-'): Pki {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const ca = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca.key');
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=coffer-test-ca']);
  return {
    dir,
    ca,
    caKey,
    issue(name, opts = {}) {
      const key = path.join(dir, `${name}.key`);
      const csr = path.join(dir, `${name}.csr`);
      const cert = path.join(dir, `${name}.pem`);
      const ext = path.join(dir, `${name}.ext`);
      const dns = ['localhost', ...(opts.dns ?? [])].map((d) => `DNS:${d}`).join(',');
      writeFileSync(ext, opts.server ? `subjectAltName=IP:127.0.0.1,${dns}\nextendedKeyUsage=serverAuth,clientAuth\n` : 'extendedKeyUsage=clientAuth\n');
      run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
      run(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
      return { cert, key };
    },
  };
}
