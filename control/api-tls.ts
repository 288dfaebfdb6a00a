// The TLS of the control's public listeners (the REST bridge and the gRPC
// API), settled once at start: each serves plaintext (only on loopback, with
// --plaintext-loopback), the operator's own pair (--rest-tls-cert/-key,
// --grpc-tls-cert/-key), or by default a pair the API CA issues for the
// control's names and addresses. That CA's certificate is copied to
// <data-dir>/api-ca.crt, readable by anyone, for clients to trust
// (coffer --ca-file, openstack --os-cacert, buf curl --cacert). docs/tls.md.
import { chmodSync, copyFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import type { ServingTlsFiles } from '../lib/grpc-server.js';
import { CONTROL_CERT_NAME, type CertificateAuthority } from './ca/authority.js';
import type { CompiledControlConfig, HostPort, ListenerTls } from './config.js';

export interface PublicTls {
  /** null: plaintext. */
  readonly rest: ServingTlsFiles | null;
  readonly grpc: ServingTlsFiles | null;
  /** The API CA's certificate for clients; null when no listener serves the issued pair. */
  readonly caFile: string | null;
}

/** Where clients find the API CA's certificate. */
export const apiCaFile = (dataDir: string): string => path.join(dataDir, 'api-ca.crt');

const DNS_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const WILDCARD = new Set(['0.0.0.0', '::', '']);

/**
 * The names a client may reach the control by: its fixed name, localhost,
 * the host's name, the loopback addresses, each listener's bind address (a
 * wildcard bind stands for every address of the host's interfaces) and the
 * operator's --api-tls-name.
 */
export function apiNames(binds: readonly HostPort[], extra: readonly string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set<string>([CONTROL_CERT_NAME, 'localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const host = hostname();
  if (DNS_NAME.test(host)) dns.add(host);
  for (const b of binds) {
    if (WILDCARD.has(b.host)) {
      for (const addrs of Object.values(networkInterfaces())) {
        for (const a of addrs ?? []) {
          // A link-local address is meaningless without its interface.
          if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:')) continue;
          if (b.host === '0.0.0.0' && a.family !== 'IPv4') continue;
          ips.add(a.address);
        }
      }
    } else if (isIP(b.host)) ips.add(b.host);
    else if (DNS_NAME.test(b.host)) dns.add(b.host);
  }
  for (const n of extra) (isIP(n) ? ips : dns).add(n);
  return { dns: [...dns], ips: [...ips] };
}

export async function settlePublicTls(config: CompiledControlConfig, ca: CertificateAuthority): Promise<PublicTls> {
  const listeners: Array<[ListenerTls, HostPort]> = [
    [config.restTls, config.rest],
    [config.grpcTls, config.grpc],
  ];
  const issuedFor = listeners.filter(([tls]) => tls.kind === 'issued').map(([, bind]) => bind);
  const issued = issuedFor.length > 0 ? await ca.issueApi(apiNames(issuedFor, config.apiTlsNames)) : null;
  const files = (tls: ListenerTls): ServingTlsFiles | null => {
    if (tls.kind === 'plaintext') return null;
    if (tls.kind === 'given') return { cert: tls.cert, key: tls.key, ca: null };
    return { cert: issued!.cert, key: issued!.key, ca: null };
  };
  let caFile: string | null = null;
  if (issued) {
    caFile = apiCaFile(config.dataDir);
    copyFileSync(ca.apiCa.cert, caFile);
    chmodSync(caFile, 0o644);
  }
  return { rest: files(config.restTls), grpc: files(config.grpcTls), caFile };
}
