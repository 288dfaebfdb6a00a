// Calls to an instance's agent over mutual TLS: the control presents its own
// certificate, and checks that the agent's certificate names the instance
// (the instance id is the TLS server name, whatever the address) and is the
// instance's identity, not its datastore's serving certificate.
import { readFileSync } from 'node:fs';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { credentials, Metadata, status as Status, type ChannelCredentials, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { LifecycleServiceClient } from '../proto/gen/coffer/agent/v1/lifecycle.js';
import { AccountServiceClient } from '../proto/gen/coffer/agent/v1/accounts.js';
import { BackupServiceClient } from '../proto/gen/coffer/agent/v1/backup.js';
import { ReplicationServiceClient } from '../proto/gen/coffer/agent/v1/replication.js';
import { ClusterServiceClient } from '../proto/gen/coffer/agent/v1/cluster.js';
import { ArchiveServiceClient } from '../proto/gen/coffer/agent/v1/archive.js';
import { statusErrorOf } from '../lib/retryable.js';
import { ControlError } from './errors.js';

export interface AgentClients {
  readonly lifecycle: LifecycleServiceClient;
  readonly accounts: AccountServiceClient;
  readonly backup: BackupServiceClient;
  readonly replication: ReplicationServiceClient;
  readonly cluster: ClusterServiceClient;
  readonly archive: ArchiveServiceClient;
  close(): void;
}

export interface AgentTls {
  /** The instances CA: agents' server certificates are signed by it. */
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export class AgentConnector {
  private readonly creds: ChannelCredentials;

  constructor(tls: AgentTls) {
    this.creds = credentials.createSsl(readFileSync(tls.ca), readFileSync(tls.key), readFileSync(tls.cert), { checkServerIdentity: agentIdentity });
  }

  connect(instanceId: string, address: string): AgentClients {
    const opts = { 'grpc.ssl_target_name_override': instanceId, 'grpc.default_authority': instanceId };
    const lifecycle = new LifecycleServiceClient(address, this.creds, opts);
    const accounts = new AccountServiceClient(address, this.creds, opts);
    const backup = new BackupServiceClient(address, this.creds, opts);
    const replication = new ReplicationServiceClient(address, this.creds, opts);
    const cluster = new ClusterServiceClient(address, this.creds, opts);
    const archive = new ArchiveServiceClient(address, this.creds, opts);
    return {
      lifecycle,
      accounts,
      backup,
      replication,
      cluster,
      archive,
      close() {
        for (const c of [lifecycle, accounts, backup, replication, cluster, archive]) c.close();
      },
    };
  }
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * The instances CA also issues each datastore a certificate with the
 * instance's name, whose key the datastore's OS user (and a tenant
 * superuser) can read. It is issued for serving only; an agent's identity
 * is issued for client use too, and that is what is required here, so the
 * datastore's pair cannot stand in for the agent.
 */
function agentIdentity(host: string, cert: PeerCertificate): Error | undefined {
  const err = checkServerIdentity(host, cert);
  if (err) return err;
  if (!cert.ext_key_usage?.includes(CLIENT_AUTH)) return new Error(`the certificate for ${host} is not an instance identity (it is not issued for client use)`);
  return undefined;
}

/** A unary agent call as a promise, with a deadline. */
export function agentCall<Res>(client: object, method: string, req: object, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as Record<string, Function>)[method]!.bind(client);
    fn(req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

/** Reads a server stream, handing each message to `onData`; aborting cancels the call. */
export function agentStream<T>(stream: ClientReadableStream<T>, onData: (m: T) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => stream.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(signal.aborted ? signal.reason : err);
    });
    stream.on('end', () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/**
 * An agent's error relayed to an API caller: a refusal keeps its status and
 * message (it says what to fix); an unreachable agent is named as such.
 * The answer is found in `err` or its causes (lib/retryable.ts reads the
 * same chain to decide whether a task step asks again).
 */
export function relayAgentError(err: unknown): ControlError {
  const e = statusErrorOf(err);
  if (!e || e.code === Status.INTERNAL) return new ControlError('CONTROL_ERR_INTERNAL', 'the agent failed; see its log', { cause: err });
  if (e.code === Status.UNAVAILABLE || e.code === Status.DEADLINE_EXCEEDED) {
    return new ControlError('CONTROL_ERR_AGENT_UNREACHABLE', `the instance's agent did not answer: ${e.details ?? String(err)}`, { cause: err });
  }
  if (e.code === Status.INVALID_ARGUMENT) return new ControlError('CONTROL_ERR_INVALID_ARGUMENT', e.details ?? 'invalid request', { cause: err });
  if (e.code === Status.NOT_FOUND) return new ControlError('CONTROL_ERR_NOT_FOUND', e.details ?? 'not found', { cause: err });
  // Busy is the one refusal that passes by itself: it keeps its ABORTED, which
  // callers (lib/retryable.ts) retry.
  if (e.code === Status.ABORTED) return new ControlError('CONTROL_ERR_BUSY', `the instance's agent is busy: ${e.details ?? String(err)}; retry when it ends`, { cause: err });
  return new ControlError('CONTROL_ERR_AGENT', e.details ?? String(err), { cause: err });
}
