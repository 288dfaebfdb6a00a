// Shared by the replication*.test.ts files: a deployment (its CA, backup
// directory and key), real MariaDB instances started by real agents with
// mutual TLS and a datastore serving certificate from that CA, and the
// MySQL-family ReplicationCapability built for an instance exactly as the
// agent builds it (the registry's factory, the agent's config and layout).
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { compileAgentConfig } from '../../../../agent/config.js';
import { layoutFor } from '../../../../agent/layout.js';
import { mariadb as mariadbFactory } from '../../../../agent/managers/mariadb/index.js';
import type { ReplicationCapability } from '../../../../agent/managers/manager.js';
import { createLogger } from '../../../../lib/logger.js';
import { ProcessRunner } from '../../../../lib/process-runner.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../../../proto/gen/coffer/agent/v1/backup.js';
import type { PrepareRequest } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { GetReplicaSnapshotResponse } from '../../../../proto/gen/coffer/agent/v1/replication.js';
import type { SourceInfo } from '../../../../proto/gen/coffer/agent/v1/replication_state.js';
import { clientsFor, collect, startAgent, tempBase, type AgentProcess, type Clients, type TestLike } from '../../../support/agent.js';
import { makePki, type Pki } from '../../../support/certs.js';
import { mariadbSocket } from '../../../support/mariadb-client.js';

export const log = createLogger({ level: 'silent' });

export interface Deployment {
  /** mariadb, or mysql (the MySQL manager, on MariaDB binaries here). */
  readonly datastore: 'mariadb' | 'mysql';
  readonly pki: Pki;
  readonly backupArgs: string[];
  readonly client: { cert: string; key: string };
}

export function deployment(datastore: 'mariadb' | 'mysql' = 'mariadb'): Deployment {
  const pki = makePki('coffer-repl-pki-');
  const dir = tempBase('coffer-repl-deploy-');
  const keyFile = path.join(dir, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  return { datastore, pki, backupArgs: ['--backup-dir', path.join(dir, 'backups'), '--backup-key-file', keyFile], client: pki.issue('control') };
}

export interface Instance {
  readonly id: string;
  readonly datastore: 'mariadb' | 'mysql';
  readonly agent: AgentProcess;
  /** gRPC clients over mutual TLS, as the control has them. */
  readonly clients: Clients;
  readonly args: Record<string, string>;
  readonly socket: string;
}

/** A new instance, or (`again`) a stopped one's agent started anew on its base dir. */
export async function startInstance(t: TestLike, d: Deployment, again?: Instance): Promise<Instance> {
  const id = again?.id ?? randomUUID();
  const args = again?.args ?? (() => {
    const identity = d.pki.issue(`agent-${id.slice(0, 8)}`, { server: true });
    const serving = d.pki.issue(`ds-${id.slice(0, 8)}`, { server: true });
    return { instanceId: id, tlsCert: identity.cert, tlsKey: identity.key, tlsCa: d.pki.ca, datastoreTlsCert: serving.cert, datastoreTlsKey: serving.key };
  })();
  const agent = await startAgent(t, {
    insecure: false,
    datastore: d.datastore,
    ...(again ? { baseDir: again.agent.baseDir, datastorePort: again.agent.datastorePort } : {}),
    extraArgs: [
      '--instance-id', id,
      '--tls-cert', args.tlsCert, '--tls-key', args.tlsKey, '--tls-ca', args.tlsCa,
      '--datastore-tls-cert', args.datastoreTlsCert, '--datastore-tls-key', args.datastoreTlsKey,
      ...d.backupArgs,
    ],
  });
  const clients = clientsFor(agent.address, credentials.createSsl(readFileSync(d.pki.ca), readFileSync(d.client.key), readFileSync(d.client.cert)));
  t.teardown(() => clients.close());
  return { id, datastore: d.datastore, agent, clients, args, socket: path.join(agent.baseDir, 'run', 'mysqld.sock') };
}

export const PREPARE: PrepareRequest = {
  datastoreVersion: '10.11',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: 'utf8mb4', collation: 'utf8mb4_general_ci' }],
  users: [{ name: 'alice', host: '%', password: 'Al1ce-pass', databases: ['shop'], rules: [] }],
  overrides: {},
  restore: undefined, replicaOf: undefined,
};

export async function prepare(i: Instance, req: Partial<PrepareRequest> = {}): Promise<void> {
  await collect(i.clients.lifecycle.prepare({ ...PREPARE, datastoreVersion: i.datastore === 'mysql' ? '8.0' : '10.11', ...req })).catch((err: Error) => {
    throw new Error(`Prepare failed: ${err.message}\n${i.agent.logs.filter((l) => /"level":(40|50|60)/.test(l)).join('\n')}`, { cause: err });
  });
}

export async function backup(i: Instance, req: { backupId: string; parent?: BackupArtifact; strategy?: string }): Promise<BackupArtifact> {
  const events = await collect<CreateBackupResponse>(
    i.clients.backup.createBackup({
      backupId: req.backupId,
      type: req.parent ? BackupType.BACKUP_TYPE_INCREMENTAL : BackupType.BACKUP_TYPE_FULL,
      strategy: req.strategy ?? '', parent: req.parent, storage: undefined, compression: '',
    }),
  );
  const artifact = events.at(-1)?.artifact;
  if (!artifact) throw new Error('no artifact');
  return artifact;
}

/** The capability the agent's manager exposes, for this instance. */
export function replicationFor(t: TestLike, i: Instance): ReplicationCapability & { caFile: string } {
  const config = compileAgentConfig({}, { datastore: 'mariadb', baseDir: i.agent.baseDir, datastorePort: i.agent.datastorePort, ...i.args }, new Map([['mariadb', mariadbFactory]]));
  const manager = mariadbFactory.create({ config, layout: layoutFor(i.agent.baseDir), runner: new ProcessRunner(log), log });
  t.teardown(() => manager.disconnect());
  return manager.replication as ReplicationCapability & { caFile: string };
}

/** SQL as the OS root over the instance's socket; throws on failure. */
export async function rootSql(i: Instance, statement: string): Promise<string> {
  const r = await mariadbSocket(i.socket, statement);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr}\n${statement.slice(0, 200)}`);
  return r.stdout.trim();
}

/** SHOW SLAVE STATUS with its column names, as the agent's admin account sees it. */
export async function slaveStatus(i: Instance): Promise<Record<string, unknown> | undefined> {
  const password = readFileSync(path.join(i.agent.baseDir, 'agent', 'admin.secret'), 'utf8').trim();
  const conn = await mysql.createConnection({ socketPath: i.socket, user: 'coffer_admin', password });
  try {
    const [rows] = await conn.query('SHOW SLAVE STATUS');
    return (rows as Record<string, unknown>[])[0];
  } finally {
    await conn.end();
  }
}

/** A client's TCP connection, as an application has it. */
export async function connectAs(i: Instance, user: string, password: string, database = 'shop'): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port: i.agent.datastorePort, user, password, database });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` is truthy; never a fixed sleep. */
export { waitFor as until } from '../../../support/agent.js';

export const randomId = (): string => randomUUID();

/** How a replica reaches a source instance (what the control fills in). */
export function sourceOf(i: Instance, user: string, password: string, position = ''): SourceInfo {
  return { host: '127.0.0.1', port: i.agent.datastorePort, replicationUser: user, replicationPassword: password, position, instanceId: i.id, slotName: '' };
}

/** A prepared source with shop.orders, and a replica built from its snapshot through the RPCs. */
export async function sourceAndReplica(t: TestLike, d: Deployment, opts: { parent?: boolean; parentStrategy?: string } = {}): Promise<{ s: Instance; r: Instance; user: string; password: string }> {
  const s = await startInstance(t, d);
  const r = await startInstance(t, d);
  await prepare(s);
  await rootSql(s, 'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(64)); INSERT INTO shop.orders SELECT seq, "base" FROM shop.seq_1_to_100');
  const password = 'Repl-' + randomUUID();
  // The control names the source's newest backup as the parent when it has one.
  const parent = opts.parent ? await backup(s, { backupId: `newest-${s.id}`, strategy: opts.parentStrategy }) : undefined;
  const events = await collect<GetReplicaSnapshotResponse>(s.clients.replication.getReplicaSnapshot({ replicas: [{ replicaId: r.id, password }], backupId: `snap-${r.id}`, parent, storage: undefined }));
  const snap = events.at(-1)!.snapshot!;
  const info = snap.sources[0]!;
  await prepare(r, { databases: [], users: [], restore: { location: snap.artifact!.location, backupId: `snap-${r.id}`, rewrapped: undefined, target: undefined, archive: undefined }, replicaOf: sourceOf(s, info.replicationUser, password, info.position) });
  return { s, r, user: info.replicationUser, password };
}
