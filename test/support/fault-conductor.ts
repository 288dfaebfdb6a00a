// FAULT INJECTION: a stand-in for the control's conductor that answers each
// heartbeat with the source verdict a test chooses (confirm with a lease,
// fence, say nothing) and can vanish on demand. The real conductor decides
// verdicts from the control's records; a test of the agent's fencing needs
// verdicts and outages the real control would produce only through a whole
// failover. It speaks the real ConductorService over mutual TLS with a
// certificate named coffer-control, as the agent requires.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  ConductorServiceService,
  SourceVerdict,
  type HeartbeatRequest,
  type HeartbeatResponse,
} from '../../proto/gen/coffer/control/v1/conductor.js';
import type { Pki } from './certs.js';

export interface FaultConductor {
  readonly port: number;
  /** Every heartbeat received, oldest first. */
  readonly heartbeats: HeartbeatRequest[];
  /** The answer to the next heartbeats. */
  answer: { verdict: SourceVerdict; leaseMs: number };
  /** Stops answering at all (the control unreachable). */
  close(): Promise<void>;
}

export async function startFaultConductor(t: { teardown(fn: () => unknown): void }, pki: Pki): Promise<FaultConductor> {
  const pair = pki.issue('coffer-control', { server: true, dns: ['coffer-control'] });
  const server = new Server();
  const state: FaultConductor = {
    port: 0,
    heartbeats: [],
    answer: { verdict: SourceVerdict.SOURCE_VERDICT_UNSPECIFIED, leaseMs: 0 },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
  server.addService(ConductorServiceService, {
    heartbeat: (call: ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>, cb: sendUnaryData<HeartbeatResponse>) => {
      state.heartbeats.push(call.request);
      cb(null, { accepted: true, sourceVerdict: state.answer.verdict, sourceLeaseMs: state.answer.leaseMs });
    },
  });
  const creds = ServerCredentials.createSsl(readFileSync(pki.ca), [{ cert_chain: readFileSync(pair.cert), private_key: readFileSync(pair.key) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  (state as { port: number }).port = port;
  t.teardown(() => server.forceShutdown());
  return state;
}
