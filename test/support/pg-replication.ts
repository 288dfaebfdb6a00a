// PostgreSQL instances as the control starts them for replication tests:
// real agents with mutual TLS, the deployment's CA and the datastore's own
// serving pair (so replicas verify their source with sslmode=verify-full),
// sharing one backup storage, each with its instance id.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { startAgent, call, clientsFor, tempBase, type AgentProcess, type Clients, type TestLike } from './agent.js';
import { makePki } from './certs.js';
import { psql } from './psql.js';
import type { ReplicationStatus, SourceInfo } from '../../proto/gen/coffer/agent/v1/replication_state.js';

export const pki = makePki();
const control = pki.issue('control');
const creds = credentials.createSsl(readFileSync(pki.ca), readFileSync(control.key), readFileSync(control.cert));

/** The control derives one replication secret per deployment for PostgreSQL's role. */
export const REPL_PASSWORD = `Repl-${randomBytes(12).toString('base64url')}`;

/** A deployment's shared backup storage (local directory, wrapping key). */
export function deployment(): string[] {
  const dir = tempBase('coffer-deploy-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  return ['--backup-dir', path.join(dir, 'backups'), '--backup-key-file', keyFile];
}

export interface Instance {
  readonly id: string;
  readonly agent: AgentProcess;
  readonly c: Clients;
  /** Starts another agent on the same base dir, port and identity (after the first was killed). */
  restart(t: TestLike): Promise<Instance>;
}

export async function instance(t: TestLike, storage: string[], id: string = randomUUID(), reuse?: AgentProcess): Promise<Instance> {
  const agentPair = pki.issue(`agent-${id}`, { server: true });
  const ds = pki.issue(`ds-${id}`, { server: true });
  const agent = await startAgent(t, {
    datastore: 'postgresql',
    insecure: false,
    baseDir: reuse?.baseDir,
    datastorePort: reuse?.datastorePort,
    extraArgs: ['--tls-cert', agentPair.cert, '--tls-key', agentPair.key, '--tls-ca', pki.ca, '--datastore-tls-cert', ds.cert, '--datastore-tls-key', ds.key, '--instance-id', id, ...storage],
  });
  const c = clientsFor(agent.address, creds);
  t.teardown(() => c.close());
  // For a failure's post-mortem: COFFER_TEST_LOGS=<dir> keeps each agent's log.
  const keep = process.env.COFFER_TEST_LOGS;
  if (keep) t.teardown(() => writeFileSync(path.join(keep, `agent-${id}-${agent.port}.log`), agent.logs.join('\n')));
  return { id, agent, c, restart: (t2) => instance(t2, storage, id, agent) };
}

export const alice = (i: Instance, sql: string) => psql(i.agent.datastorePort, 'alice', 'Al1ce-pass', sql, 'shop');
export const root = (i: Instance, sql: string) => psql(i.agent.datastorePort, 'root', 'R00t-pass-1', sql, 'shop');

/** One value alice reads; throws with psql's error. */
export async function value(i: Instance, sql: string): Promise<string> {
  const r = await alice(i, sql);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

export const rpc = <Res>(i: Instance, method: string, req: object) => call<object, Res>(i.c.replication, method, req);
export const replicationStatus = async (i: Instance): Promise<ReplicationStatus> => (await rpc<{ status: ReplicationStatus }>(i, 'getReplicationStatus', {})).status;

/** What the control hands a replica: where the source is, and its access there. */
export const sourceFor = (src: Instance, access: SourceInfo): SourceInfo => ({
  ...access,
  host: '127.0.0.1',
  port: src.agent.datastorePort,
  replicationPassword: REPL_PASSWORD,
  instanceId: src.id,
});

/** A replica's slot name on its source. */
export const slotOf = (id: string): string => `coffer_${id.replace(/-/g, '')}`;

export const FINGERPRINT = "SELECT count(*) || ':' || md5(string_agg(id || ',' || v, ';' ORDER BY id)) FROM items";
