// The identity of a conductor caller: the CN of the client certificate it
// presented (verified against the instances CA by TLS before any handler runs).
import type * as grpc from '@grpc/grpc-js';
import { ControlError } from '../errors.js';

export function peerInstanceId(call: grpc.ServerUnaryCall<unknown, unknown>): string {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const cn = cert?.subject?.CN;
  const id = Array.isArray(cn) ? cn[0] : cn;
  if (!id) throw new ControlError('CONTROL_ERR_UNAUTHENTICATED', 'the conductor needs a client certificate issued to an instance');
  return id;
}

/** A report about another instance than the certificate's is refused. */
export function requireSameInstance(peer: string, reported: string): void {
  if (peer !== reported) {
    throw new ControlError('CONTROL_ERR_PERMISSION_DENIED', `the certificate of instance ${peer} may not report for instance ${reported}`);
  }
}
