// Certificate operations with the `openssl` program, through ProcessRunner.
// Keys are written by openssl straight to files (mode 0600); only paths are
// on argv, never key material.
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import type { ProcessRunner } from '../../lib/process-runner.js';

const REQ_CONFIG = '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n';

const CA_EXTENSIONS = [
  '[v3]',
  'basicConstraints = critical,CA:TRUE,pathlen:0',
  'keyUsage = critical,keyCertSign,cRLSign',
  'subjectKeyIdentifier = hash',
].join('\n');

/** A subject name safe to put in `-subj` and a SAN: no "/", "=", "," or spaces. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

export interface LeafSpec {
  /** CN and the first DNS SAN: the identity (an instance id, "coffer-control"). */
  readonly name: string;
  readonly extraDns?: readonly string[];
  readonly ips?: readonly string[];
  readonly days: number;
  /**
   * What the key may do. "identity" (the default): serve and present TLS, as
   * an agent and the control do. "serving": serve TLS only (extendedKeyUsage
   * serverAuth), for a datastore's clients; TLS peers refuse it as a client
   * certificate, so it cannot speak for the instance. "peer": present TLS
   * only (clientAuth), for a datastore's own links to its peers (Redis
   * Cluster's bus verifies the connecting node's certificate); named apart
   * from the instance (NAME is not an instance id), so the conductor takes
   * it for no instance.
   */
  readonly purpose?: 'identity' | 'serving' | 'peer';
}

export class OpenSsl {
  constructor(private readonly runner: ProcessRunner) {}

  async generateKey(keyPath: string): Promise<void> {
    await this.runner.run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
    chmodSync(keyPath, 0o600);
  }

  async selfSignedCa(keyPath: string, certPath: string, commonName: string, workDir: string): Promise<void> {
    const cnf = `${workDir}/ca.cnf`;
    writeFileSync(cnf, `${REQ_CONFIG}${CA_EXTENSIONS}\n`);
    await this.runner.run([
      'openssl', 'req', '-x509', '-new', '-config', cnf, '-extensions', 'v3', '-key', keyPath,
      '-subj', `/CN=${commonName.replace(/[/=,]/g, ' ')}`, '-days', '3650', '-sha256', '-out', certPath,
    ]);
  }

  /** A key and a certificate for `spec.name`, for the use `spec.purpose` names. */
  async issue(ca: { cert: string; key: string }, spec: LeafSpec, keyPath: string, certPath: string, workDir: string): Promise<void> {
    if (!NAME.test(spec.name)) throw new TypeError(`certificate name "${spec.name}" is not a valid DNS name`);
    for (const d of spec.extraDns ?? []) if (!NAME.test(d)) throw new TypeError(`DNS name "${d}" is not valid`);
    const san = [spec.name, ...(spec.extraDns ?? [])].map((d) => `DNS:${d}`).concat((spec.ips ?? []).map((ip) => `IP:${ip}`));
    const base = `${workDir}/${spec.name}`;
    writeFileSync(`${base}.cnf`, REQ_CONFIG);
    writeFileSync(
      `${base}.ext`,
      [
        '[v3]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage = ${spec.purpose === 'serving' ? 'serverAuth' : spec.purpose === 'peer' ? 'clientAuth' : 'serverAuth,clientAuth'}`,
        `subjectAltName = ${san.join(',')}`,
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    await this.generateKey(keyPath);
    await this.runner.run(['openssl', 'req', '-new', '-config', `${base}.cnf`, '-key', keyPath, '-subj', `/CN=${spec.name}`, '-out', `${base}.csr`]);
    await this.runner.run([
      'openssl', 'x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key,
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(spec.days), '-sha256',
      '-extfile', `${base}.ext`, '-extensions', 'v3', '-out', certPath,
    ]);
  }
}
