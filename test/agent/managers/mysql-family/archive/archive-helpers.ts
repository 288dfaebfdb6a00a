// Shared by the binlog archive tests: the MySQL-family archive capability
// built for a real instance's base dir as the agent builds it, and the two
// steps of the archive core it is driven by, made from the committed core
// pieces (uploader, catalogue writer, the backup pipeline): the hand-over
// (store, then catalogue, then settle) and the verified fetch of an
// archived object.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import { createLogger } from '../../../../../lib/logger.js';
import { lookupOsUser } from '../../../../../lib/os-user.js';
import { ProcessRunner } from '../../../../../lib/process-runner.js';
import { CofferError } from '../../../../../lib/coded-error.js';
import { layoutFor } from '../../../../../agent/layout.js';
import { ADMIN_USER } from '../../../../../agent/managers/mysql-family/flavor.js';
import { SqlClient } from '../../../../../agent/managers/mysql-family/sql-client.js';
import { createMysqlArchive, type MysqlArchiveCapability } from '../../../../../agent/managers/mysql-family/archive/capability.js';
import { compareBinlogNames } from '../../../../../agent/managers/mysql-family/archive/binlog-positions.js';
import { ArchiveCatalogueWriter } from '../../../../../agent/archive/catalogue.js';
import { ArchiveUploader } from '../../../../../agent/archive/uploader.js';
import { openRestore, verifyObject } from '../../../../../strategies/backup/pipeline.js';
import type { ArchivedObject } from '../../../../../strategies/archive/layout.js';
import type { ObjectStorage } from '../../../../../strategies/storage/storage.js';
import { mariadbSocket } from '../../../../support/mariadb-client.js';
import { logFileStorer } from './store-log-file.js';

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

/** A store whose saves fail while `down` (an injected fault: a real store cannot be made to fail on cue here). */
export function faultyStore(inner: ObjectStorage): ObjectStorage & { down: boolean } {
  const s = {
    down: false,
    get name() {
      return inner.name;
    },
    save: (key: string, opts: Parameters<ObjectStorage['save']>[1]) => {
      if (s.down) throw new CofferError('STORAGE', `the store is away (injected fault) while saving ${key}`);
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

/** The core's hand-over, from its committed pieces: stored, catalogued, then settled; archived names answered at once. */
export function handOverTo(store: ObjectStorage, prefix: string, wrappingKey: Buffer, cap: MysqlArchiveCapability, existing: readonly ArchivedObject[] = []) {
  const catalogue = new ArchiveCatalogueWriter(store, prefix, 'binlog', 'source', existing, compareBinlogNames);
  const uploader = new ArchiveUploader({
    parallelism: 2,
    store: logFileStorer({ store, prefix, kind: 'binlog', wrappingKey: () => wrappingKey, compression: 'zstd', deps: { runner, log }, describe: (item) => cap.describe(item.name, item.path) }),
    record: (o) => catalogue.record(o),
  });
  const uploads = new Map<string, number>();
  return {
    catalogue,
    /** How many times each name was uploaded. */
    uploads,
    handOver: async (name: string): Promise<string> => {
      if (catalogue.objects.some((o) => o.name === name)) return 'already-archived';
      uploads.set(name, (uploads.get(name) ?? 0) + 1);
      await uploader.archive({ name, path: cap.pathOf(name), closedAtMs: Date.now() });
      return 'archived';
    },
    close: () => uploader.close(),
  };
}

/** The core's verified fetch: the whole object verified, then decrypted. */
export async function fetchVerified(store: ObjectStorage, o: ArchivedObject, wrappingKey: Buffer): Promise<Buffer> {
  const location = store.locationOf(o.key);
  const v = await verifyObject((await store.open(location)).stream, o.sha256, wrappingKey, {});
  const opened = openRestore((await store.open(location)).stream, { wrappingKey, expectedSha256: o.sha256, expectHeader: v.header, compression: o.compression }, { runner, log });
  const chunks: Buffer[] = [];
  for await (const c of opened.output as Readable) chunks.push(c as Buffer);
  await opened.result;
  return Buffer.concat(chunks);
}

export async function readText(store: ObjectStorage, key: string): Promise<string> {
  return text((await store.open(store.locationOf(key))).stream);
}
