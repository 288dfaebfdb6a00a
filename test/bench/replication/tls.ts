// The deployment's CA for a replication bench, made with the real openssl
// (test/support/certs.ts). Agents run with mutual TLS, as the control runs
// them: replication needs the CA (--tls-ca) to verify a source. Each agent
// gets an identity pair and its datastore a serving pair (SAN 127.0.0.1);
// the bench talks to agents with a client pair, as the control does. The CA
// is also copied where a datastore's OS user can read it (a by-hand
// replica's MASTER_SSL_CA / sslrootcert).
import { copyFileSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { clientsFor, collect, startAgent, type AgentProcess } from '../../support/agent.js';
import { makePki } from '../../support/certs.js';
import { DatastoreState, type PrepareResponse } from '../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { Teardown } from '../harness.js';

export interface BenchPki {
  /** The CA, mode 0644, under the bench's root. */
  readonly ca: string;
  /**
   * A real agent with mutual TLS, its own instance id and a datastore
   * serving pair; its `clients` speak mutual TLS.
   */
  startAgent(td: Teardown, baseDir: string, datastore: string, extraArgs: readonly string[]): Promise<AgentProcess & { readonly instanceId: string }>;
}

export function benchPki(td: Teardown, root: string): BenchPki {
  const pki = makePki('coffer-bench-pki-');
  td.teardown(() => rmSync(pki.dir, { recursive: true, force: true }));
  const ca = path.join(root, 'ca.pem');
  copyFileSync(pki.ca, ca);
  chmodSync(ca, 0o644);
  const client = pki.issue('bench-control');
  const creds = () => credentials.createSsl(readFileSync(pki.ca), readFileSync(client.key), readFileSync(client.cert));
  return {
    ca,
    async startAgent(td, baseDir, datastore, extraArgs) {
      const instanceId = randomUUID();
      const short = instanceId.slice(0, 8);
      const identity = pki.issue(`agent-${short}`, { server: true });
      const serving = pki.issue(`ds-${short}`, { server: true });
      const agent = await startAgent(td, {
        insecure: false,
        baseDir,
        datastore,
        extraArgs: [
          '--instance-id', instanceId,
          '--tls-cert', identity.cert, '--tls-key', identity.key, '--tls-ca', pki.ca,
          '--datastore-tls-cert', serving.cert, '--datastore-tls-key', serving.key,
          ...extraArgs,
        ],
      });
      const clients = clientsFor(agent.address, creds());
      td.teardown(() => clients.close());
      return { ...agent, clients, instanceId };
    },
  };
}

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

/** A prepared (ACTIVE, empty) instance behind a mutual-TLS agent. */
export async function preparedTlsAgent(td: Teardown, pki: BenchPki, baseDir: string, datastore: string, extraArgs: readonly string[]) {
  const agent = await pki.startAgent(td, baseDir, datastore, extraArgs);
  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(EMPTY_PREPARE));
  const state = events.at(-1)?.result?.state;
  if (state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`Prepare of ${datastore} ended in state ${state}`);
  return agent;
}
