// Shared by the binlog archive tests: the MySQL-family archive capability
// built for a real instance's base dir as the agent builds it, the archive
// core's archiver it hands binlogs to, and the core's verified fetch.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../../../../../lib/logger.js';
import { lookupOsUser } from '../../../../../lib/os-user.js';
import { ProcessRunner } from '../../../../../lib/process-runner.js';
import { CofferError } from '../../../../../lib/coded-error.js';
import { layoutFor } from '../../../../../agent/layout.js';
import { ADMIN_USER } from '../../../../../agent/managers/mysql-family/flavor.js';
import { SqlClient } from '../../../../../agent/managers/mysql-family/sql-client.js';
import { createMysqlArchive, type MysqlArchiveCapability } from '../../../../../agent/managers/mysql-family/archive/capability.js';
import { Archiver } from '../../../../../agent/archive/archiver.js';
import { fetchArchived } from '../../../../../agent/archive/fetch-object.js';
import type { ArchivedObject } from '../../../../../strategies/archive/layout.js';
import type { ObjectStorage } from '../../../../../strategies/storage/storage.js';
import { mariadbSocket } from '../../../../support/mariadb-client.js';
import { tempBase } from '../../../../support/agent.js';

export const log = createLogger({ level: 'silent' });
export const runner = new ProcessRunner(log);

export const socketOf = (baseDir: string): string => path.join(baseDir, 'run', 'mysqld.sock');

/** As the OS root over the socket; throws with the client's stderr. */
export async function rootSql(baseDir: string, sql: string): Promise<string> {
  const r = await mariadbSocket(socketOf(baseDir), sql);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr}\n${sql}`);
  return r.stdout.trim();
}

/** The capability for an instance (a new admin connection: a restore re-keys the agent's account). */
export function archiveFor(t: { teardown(fn: () => unknown): void }, baseDir: string, opts: { pollMs?: number; localRetentionSeconds?: number } = {}): MysqlArchiveCapability {
  const layout = layoutFor(baseDir);
  const secretFile = path.join(layout.agentDir, 'admin.secret');
  const sql = new SqlClient(socketOf(baseDir), ADMIN_USER, () => readFileSync(secretFile, 'utf8').trim());
  t.teardown(() => sql.close());
  return createMysqlArchive({ sql, layout, runner, log, socket: socketOf(baseDir), mysqlUser: () => lookupOsUser('mysql'), ...opts });
}

/**
 * A store whose saves fail while `down`, or those of the keys `refuse`
 * matches (an injected fault: a real store cannot be made to fail on cue
 * here), counting the saves of each key.
 */
export function faultyStore(inner: ObjectStorage): ObjectStorage & { down: boolean; refuse: RegExp | undefined; saves: Map<string, number> } {
  const s = {
    down: false,
    refuse: undefined as RegExp | undefined,
    saves: new Map<string, number>(),
    get name() {
      return inner.name;
    },
    save: (key: string, opts: Parameters<ObjectStorage['save']>[1]) => {
      if (s.down || s.refuse?.test(key)) throw new CofferError('STORAGE', `the store is away (injected fault) while saving ${key}`);
      s.saves.set(key, (s.saves.get(key) ?? 0) + 1);
      return inner.save(key, opts);
    },
    open: (l: string, o?: { signal?: AbortSignal }) => inner.open(l, o),
    stat: (l: string) => inner.stat(l),
    delete: (l: string) => inner.delete(l),
    locationOf: (k: string) => inner.locationOf(k),
    removeAbandoned: (p: string, o?: Parameters<ObjectStorage['removeAbandoned']>[1]) => inner.removeAbandoned(p, o),
  };
  return s;
}

/**
 * The archive core's archiver for an instance's capability, as the agent
 * builds it, with its settings in a directory of its own (the agent of the
 * instance keeps archiving off in its own) and archiving configured on.
 */
export async function archiverFor(t: { teardown(fn: () => unknown): void }, cap: MysqlArchiveCapability, store: ObjectStorage, prefix: string, wrappingKey: Buffer): Promise<Archiver> {
  const agentDir = tempBase('coffer-archiver-');
  t.teardown(() => rmSync(agentDir, { recursive: true, force: true }));
  const archiver = new Archiver({ capability: cap, instanceId: 'source', agentDir, store: () => store, defaultStorage: store.name, wrappingKey: () => wrappingKey, runner, log, restartDatastore: async () => undefined });
  await archiver.configure(true, { storage: { storage: store.name, location: prefix }, keyId: '', archiveTimeoutSeconds: 1, parallelism: 2, compression: 'zstd', retentionDays: 0 });
  return archiver;
}

/** The core's verified fetch (every frame and the sha256 checked before a byte is returned). */
export function fetchVerified(store: ObjectStorage, o: ArchivedObject, wrappingKey: Buffer): Promise<Buffer> {
  return fetchArchived(o, { store, wrappingKey, runner, log }, AbortSignal.timeout(60_000));
}
