// An agent that reports to a control must hold its own instance's
// certificate: the conductor takes a heartbeat's instance from the client
// certificate's CN, and the control calls the agent expecting the instance
// id among the server certificate's DNS names (control/ca issues both, CN
// and SAN, as the instance id). A certificate for another instance, say a
// config drive made for the wrong VM, would have this agent speak for that
// instance, so the agent refuses to start instead, saying which is which.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The certificate's CN and its DNS subject alternative names. */
export function certificateNames(pem: Buffer | string): { cn: string | undefined; dns: string[] } {
  const cert = new X509Certificate(pem);
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  const dns = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return { cn, dns };
}

/** Why `certFile` is not `instanceId`'s certificate, or null when it is (CN and a DNS name both the id). */
export function certificateIdentityProblem(certFile: string, instanceId: string): string | null {
  let names;
  try {
    names = certificateNames(readFileSync(certFile));
  } catch (err) {
    return `TLS cert file ${certFile} is not a readable PEM certificate: ${(err as Error).message}`;
  }
  if (names.cn === instanceId && names.dns.includes(instanceId)) return null;
  const shown = `CN ${JSON.stringify(names.cn ?? '')}, DNS names ${names.dns.length ? names.dns.join(' ') : 'none'}`;
  return `the TLS certificate ${certFile} is for instance ${JSON.stringify(names.cn ?? '')} (${shown}), not for this instance ${JSON.stringify(instanceId)}: refusing to start (was the config made for another instance?)`;
}
