// The control's certificate authorities, created at first start under
// <data-dir>/ca (0700, keys 0600) and recorded in SQLite.
//
// Two CAs, so that trust can differ by direction without any check in code:
// - the control CA issues only the control's own certificate. Agents trust
//   only it (their --tls-ca), so an agent accepts calls from the control and
//   from nobody else, not even another instance.
// - the instances CA issues two key pairs per instance, both named by the
//   instance id (CN and SAN). The identity pair is the agent's: the control
//   trusts it for the conductor's clients and for agents' server
//   certificates, and checks the id on each call. The serving pair is the
//   datastore's, for its clients' TLS (verify-full against this CA and the
//   instance id): it is good for serving TLS only, and it is the one the
//   datastore's OS user can read, so a tenant who reads it (a superuser can
//   read files as that user) gains nothing towards the control.
// A third, the API CA, issues only the serving certificate of the control's
// public listeners (the REST bridge and the gRPC API, docs/tls.md). Its
// certificate is what API clients are given to trust: it vouches for nothing
// agents or datastores accept, and can be handed out or replaced without
// touching their trust.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { Db } from '../db/database.js';
import type { OpenSsl } from './openssl.js';

export const CONTROL_CERT_NAME = 'coffer-control';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface InstanceCertFiles extends KeyPair {
  /** The CA the agent trusts: the control CA. */
  readonly ca: string;
  /** The datastore's serving certificate and key (serverAuth only). */
  readonly datastore: KeyPair;
  /** The datastore's certificate towards its peers (clientAuth only, CN INSTANCE.datastore-peer): Redis Cluster's bus. */
  readonly datastorePeer: KeyPair;
  /** The instances CA, which signs every datastore's serving certificate: replicas verify their source with it. */
  readonly datastoreCa: string;
}

export class CertificateAuthority {
  private constructor(
    private readonly dir: string,
    private readonly openssl: OpenSsl,
  ) {}

  get controlCa(): KeyPair {
    return { cert: path.join(this.dir, 'control-ca.crt'), key: path.join(this.dir, 'control-ca.key') };
  }

  get instancesCa(): KeyPair {
    return { cert: path.join(this.dir, 'instances-ca.crt'), key: path.join(this.dir, 'instances-ca.key') };
  }

  /** The CA of the public listeners' serving certificate: the one API clients trust. */
  get apiCa(): KeyPair {
    return { cert: path.join(this.dir, 'api-ca.crt'), key: path.join(this.dir, 'api-ca.key') };
  }

  /** The serving certificate of the public listeners, issued by the API CA. */
  get api(): KeyPair {
    return { cert: path.join(this.dir, 'api.crt'), key: path.join(this.dir, 'api.key') };
  }

  /** The control's certificate: its client identity towards agents and the conductor's server certificate. */
  get control(): KeyPair {
    return { cert: path.join(this.dir, 'control.crt'), key: path.join(this.dir, 'control.key') };
  }

  static async open(dataDir: string, openssl: OpenSsl, db: Db, log: Logger): Promise<CertificateAuthority> {
    const dir = path.join(dataDir, 'ca');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = new CertificateAuthority(dir, openssl);
    const record = db.prepare('INSERT OR REPLACE INTO ca (name, cert_pem, key_path, created_at) VALUES (?, ?, ?, ?)');
    for (const [name, pair, cn] of [
      ['control', ca.controlCa, 'Coffer control CA'],
      ['instances', ca.instancesCa, 'Coffer instances CA'],
      ['api', ca.apiCa, 'Coffer API CA'],
    ] as const) {
      if (existsSync(pair.cert) && existsSync(pair.key)) continue;
      await ca.withWorkDir(async (work) => {
        await openssl.generateKey(pair.key);
        await openssl.selfSignedCa(pair.key, pair.cert, cn, work);
      });
      record.run(name, readFileSync(pair.cert, 'utf8'), pair.key, Date.now());
      log.info({ ca: name }, 'created certificate authority');
    }
    if (!existsSync(ca.control.cert) || !existsSync(ca.control.key)) {
      await ca.withWorkDir((work) =>
        openssl.issue(ca.controlCa, { name: CONTROL_CERT_NAME, extraDns: ['localhost'], ips: ['127.0.0.1', '::1'], days: 825 }, ca.control.key, ca.control.cert, work),
      );
    }
    return ca;
  }

  /**
   * The public listeners' serving pair for these names, issued by the API CA.
   * Kept while the names are the same; issued anew when they change (the
   * control was bound to another address), so it always names where the
   * control serves.
   */
  async issueApi(names: { readonly dns: readonly string[]; readonly ips: readonly string[] }): Promise<KeyPair> {
    const pair = this.api;
    const namesFile = path.join(this.dir, 'api.names.json');
    const wanted = JSON.stringify(names);
    const held = existsSync(namesFile) ? readFileSync(namesFile, 'utf8') : '';
    if (held === wanted && existsSync(pair.cert) && existsSync(pair.key)) return pair;
    const [name = CONTROL_CERT_NAME, ...extraDns] = names.dns;
    await this.withWorkDir((work) => this.openssl.issue(this.apiCa, { name, extraDns, ips: names.ips, days: 825, purpose: 'serving' }, pair.key, pair.cert, work));
    writeFileSync(namesFile, wanted);
    return pair;
  }

  /** Issues the instance's two key pairs into `dir` (idempotent: each kept if present). */
  async issueInstance(instanceId: string, dir: string, datastoreHost = ''): Promise<InstanceCertFiles> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = {
      cert: path.join(dir, 'instance.crt'),
      key: path.join(dir, 'instance.key'),
      ca: path.join(dir, 'ca.crt'),
      datastore: { cert: path.join(dir, 'datastore.crt'), key: path.join(dir, 'datastore.key') },
      datastorePeer: { cert: path.join(dir, 'datastore-peer.crt'), key: path.join(dir, 'datastore-peer.key') },
      datastoreCa: path.join(dir, 'datastore-ca.crt'),
    };
    // A copy of the control CA, so the instance's directory is complete on
    // its own (the same files go onto a config drive for a VM driver).
    copyFileSync(this.controlCa.cert, files.ca);
    // Replicas verify their source's datastore with the CA that signed it.
    copyFileSync(this.instancesCa.cert, files.datastoreCa);
    // The serving certificate names the datastore's address too: a replica
    // connects to it by address and verifies the name (MariaDB's
    // MASTER_SSL_VERIFY_SERVER_CERT, PostgreSQL's verify-full).
    const hostNames = datastoreHost ? (isIP(datastoreHost) ? { ips: [datastoreHost] } : { extraDns: [datastoreHost] }) : {};
    for (const [pair, purpose] of [[files, 'identity'], [files.datastore, 'serving'], [files.datastorePeer, 'peer']] as const) {
      if (existsSync(pair.cert) && existsSync(pair.key)) continue;
      const name = purpose === 'peer' ? `${instanceId}.datastore-peer` : instanceId;
      await this.withWorkDir((work) => this.openssl.issue(this.instancesCa, { name, days: 825, purpose, ...(purpose === 'serving' ? hostNames : {}) }, pair.key, pair.cert, work));
    }
    return files;
  }

  private async withWorkDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    const work = mkdtempSync(path.join(this.dir, 'work-'));
    try {
      return await fn(work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
