// Replication sets through the real control: a source with data, replicas
// of it, and what a user of each datastore does to them (write a row, count
// rows, see a write refused), with the datastore's own client.
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CreateInstanceRequest, InstanceStatus, type CreateInstanceResponse, type GetInstanceResponse, type Instance } from '../../proto/gen/coffer/control/v1/instances.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { AGENT_BIN, agentEnv, alive, waitFor, withoutTapLoaders } from './agent.js';
import { ccall, type ControlHarness } from './control.js';
import { psql } from './psql.js';
import { datastoreTrust } from './datastore-trust.js';
import { redisCli } from './redis-cli.js';
import { mariadb } from './mariadb-client.js';

export const USER = 'alice';
export const PASSWORD = 'Al1ce-pass-9';

/** What a user does with one datastore, through its own client. */
export interface DatastoreUser {
  readonly datastore: string;
  /** The create request of a source holding a user that can write. */
  sourceRequest(name: string): CreateInstanceRequest;
  /** Makes the place rows go (a table; nothing for Redis). */
  setup(port: number): Promise<void>;
  /** Writes row `i`; resolves true when the server acknowledged it. */
  write(port: number, i: number): Promise<boolean>;
  /** Writes row `i`; resolves the server's refusal ('' when it was accepted). */
  refusal(port: number, i: number): Promise<string>;
  /** The row numbers present. */
  rows(port: number): Promise<Set<number>>;
}

const pg: DatastoreUser = {
  datastore: 'postgresql',
  sourceRequest: (name) => CreateInstanceRequest.fromPartial({ name, datastore: 'postgresql', databases: [{ name: 'shop' }], users: [{ name: USER, password: PASSWORD, databases: ['shop'] }] }),
  async setup(port) {
    const r = await psql(port, USER, PASSWORD, 'CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY)', 'shop');
    if (r.code !== 0) throw new Error(r.stderr);
  },
  async write(port, i) {
    return (await psql(port, USER, PASSWORD, `INSERT INTO t VALUES (${i})`, 'shop')).code === 0;
  },
  async refusal(port, i) {
    const r = await psql(port, USER, PASSWORD, `INSERT INTO t VALUES (${i})`, 'shop');
    return r.code === 0 ? '' : r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('---')).join(' ').trim() || `exit ${r.code}`;
  },
  async rows(port) {
    const r = await psql(port, USER, PASSWORD, 'SELECT id FROM t', 'shop');
    if (r.code !== 0) throw new Error(r.stderr);
    return new Set(r.stdout.split('\n').filter(Boolean).map(Number));
  },
};

// The control's Redis instances serve TLS only: redis-cli verifies them against the deployments' CA.
const redis: DatastoreUser = {
  datastore: 'redis',
  sourceRequest: (name) => CreateInstanceRequest.fromPartial({ name, datastore: 'redis', users: [{ name: USER, password: PASSWORD, rules: ['~*', '+@all'] }] }),
  async setup() {},
  async write(port, i) {
    const r = await redisCli(port, USER, PASSWORD, ['SET', `row:${i}`, '1'], datastoreTrust());
    return r.code === 0 && r.stdout.trim() === 'OK';
  },
  async refusal(port, i) {
    const r = await redisCli(port, USER, PASSWORD, ['SET', `row:${i}`, '1'], datastoreTrust());
    return r.code === 0 && r.stdout.trim() === 'OK' ? '' : (r.stdout + r.stderr).trim();
  },
  async rows(port) {
    const r = await redisCli(port, USER, PASSWORD, ['--scan', '--pattern', 'row:*'], datastoreTrust());
    if (r.code !== 0) throw new Error(r.stderr);
    return new Set(r.stdout.split('\n').filter(Boolean).map((k) => Number(k.slice(4))));
  },
};

const maria: DatastoreUser = {
  datastore: 'mariadb',
  sourceRequest: (name) => CreateInstanceRequest.fromPartial({ name, datastore: 'mariadb', databases: [{ name: 'shop' }], users: [{ name: USER, host: '%', password: PASSWORD, databases: ['shop'] }] }),
  async setup(port) {
    const r = await mariadb(port, USER, PASSWORD, 'CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)', 'shop');
    if (r.code !== 0) throw new Error(r.stderr);
  },
  async write(port, i) {
    return (await mariadb(port, USER, PASSWORD, `INSERT INTO t VALUES (${i})`, 'shop')).code === 0;
  },
  async refusal(port, i) {
    const r = await mariadb(port, USER, PASSWORD, `INSERT INTO t VALUES (${i})`, 'shop');
    return r.code === 0 ? '' : r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('---')).join(' ').trim() || `exit ${r.code}`;
  },
  async rows(port) {
    const r = await mariadb(port, USER, PASSWORD, 'SELECT id FROM t', 'shop');
    if (r.code !== 0) throw new Error(r.stderr);
    return new Set(r.stdout.split('\n').filter(Boolean).map(Number));
  },
};

export const DATASTORE_USERS: Readonly<Record<string, DatastoreUser>> = { postgresql: pg, redis, mariadb: maria };

export async function getInstance(h: ControlHarness, token: string, id: string): Promise<Instance> {
  return (await ccall<GetInstanceResponse>(h.clients.instances, 'getInstance', { id }, token)).instance!;
}

/** Polls the instance until `pred` holds (a user refreshing `show`). */
export function waitInstance(h: ControlHarness, token: string, id: string, what: string, pred: (i: Instance) => boolean, timeoutMs = 300_000): Promise<Instance> {
  return waitFor(what, async () => {
    const i = await getInstance(h, token, id);
    if (i.status === InstanceStatus.INSTANCE_STATUS_ERROR && !pred(i)) throw new Error(`${i.name} is ERROR: ${i.fault?.message}`);
    return pred(i) ? i : false;
  }, timeoutMs);
}

export const isActive = (i: Instance): boolean => i.status === InstanceStatus.INSTANCE_STATUS_ACTIVE && !i.taskId;

/** A source ACTIVE, with its table, and rows 1..`rows` written. */
export async function createSource(h: ControlHarness, token: string, u: DatastoreUser, name: string, rows = 0): Promise<Instance> {
  const c = await ccall<CreateInstanceResponse>(h.clients.instances, 'createInstance', u.sourceRequest(name), token);
  const s = await waitInstance(h, token, c.instance!.id, `${name} ACTIVE`, isActive);
  await u.setup(s.port);
  for (let i = 1; i <= rows; i++) {
    const w = await writeToSource(u, s.port, i);
    if (!w.accepted) throw new Error(`writing row ${i} to the source failed: ${w.refused}`);
  }
  return s;
}

/**
 * Writes row `i` to a source the way its user does: a refusal is retried
 * for up to `timeoutMs`. A source refuses writes while its lease is not
 * confirmed (docs/replication.md, "Roles and fencing"): after a control
 * restart, and when a heartbeat came late on a loaded machine; the next
 * confirmation lifts it. A duplicate key means an earlier try was applied
 * and its answer lost. `refused` is the first refusal ('' if none).
 */
export async function writeToSource(u: DatastoreUser, port: number, i: number, timeoutMs = 30_000): Promise<{ accepted: boolean; refused: string }> {
  let first = '';
  const accepted = await waitFor(`row ${i} accepted on port ${port}`, async () => {
    const refused = await u.refusal(port, i);
    if (refused === '' || /Duplicate entry|duplicate key/.test(refused)) return true;
    first ||= refused;
    return false;
  }, timeoutMs).catch(() => false);
  return { accepted, refused: first };
}

/** Asserts that the source at `port` takes row `i` (writeToSource), naming the first refusal. */
export async function takesWrite(t: Test, u: DatastoreUser, port: number, i: number, what: string): Promise<boolean> {
  const w = await writeToSource(u, port, i);
  return t.ok(w.accepted, `${what}${w.refused ? ` (first refused: ${w.refused})` : ''}`);
}

export async function createReplicas(h: ControlHarness, token: string, sourceId: string, name: string, count: number, autoFailover?: boolean): Promise<CreateInstanceResponse> {
  return ccall<CreateInstanceResponse>(h.clients.instances, 'createInstance', CreateInstanceRequest.fromPartial({ name, replicaOf: sourceId, replicaCount: count, ...(autoFailover === undefined ? {} : { autoFailover }) }), token);
}

/** Waits until `port` holds every row of `expected`. */
export function waitRows(u: DatastoreUser, port: number, expected: Iterable<number>, what: string, timeoutMs = 60_000): Promise<Set<number>> {
  const want = [...expected];
  return waitFor(what, async () => {
    const have = await u.rows(port);
    return want.every((i) => have.has(i)) ? have : false;
  }, timeoutMs);
}

function instanceDir(h: ControlHarness, id: string): string {
  return path.join(h.dataDir, 'instances', id);
}

/** kill -9 of an instance's agent and of its datastore (by their pids), as a crashed VM. */
export function killInstance(h: ControlHarness, id: string): void {
  const dir = instanceDir(h, id);
  const ds = JSON.parse(readFileSync(path.join(dir, 'base', 'agent', 'datastore.pid'), 'utf8')) as { pid: number };
  const agent = Number(readFileSync(path.join(dir, 'agent.pid'), 'utf8').trim());
  for (const pid of [agent, ds.pid]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  if (alive(agent) || alive(ds.pid)) {
    // Zombies are reaped by their parent; the processes no longer run.
  }
}

/** Starts the instance's agent again the way the local driver does (it finds its datastore dead and starts it). */
export function restartAgent(h: ControlHarness, id: string): number {
  const dir = instanceDir(h, id);
  const child = spawn(...withoutTapLoaders([process.execPath, ...AGENT_NODE_FLAGS, AGENT_BIN, '--config', path.join(dir, 'agent.json')]), { cwd: dir, env: agentEnv(), stdio: 'ignore', detached: true });
  child.unref();
  // Where the driver records it, so a later killInstance finds this one.
  writeFileSync(path.join(dir, 'agent.pid'), `${child.pid}\n`);
  return child.pid!;
}
