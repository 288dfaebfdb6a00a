// Shared by the mariadb-*.test.ts files: real instances started by the real
// agent, and the MySQL-family backup capability built for an instance's base
// dir exactly as the agent builds it (the registry's factory, the agent's
// layout and config), driven from the test process.
import { createReadStream, createWriteStream, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { compileAgentConfig } from '../../../../../agent/config.js';
import { layoutFor } from '../../../../../agent/layout.js';
import { mariadb as mariadbFactory } from '../../../../../agent/managers/mariadb/index.js';
import { createMysqlBackup, type MysqlBackupCapability } from '../../../../../agent/managers/mysql-family/backup/capability.js';
import { mariadbFlavor } from '../../../../../agent/managers/mariadb/flavor.js';
import { ADMIN_USER } from '../../../../../agent/managers/mysql-family/flavor.js';
import { SqlClient } from '../../../../../agent/managers/mysql-family/sql-client.js';
import type { BackupSource } from '../../../../../strategies/backup/source.js';
import { createLogger } from '../../../../../lib/logger.js';
import { lookupOsUser } from '../../../../../lib/os-user.js';
import { ProcessRunner } from '../../../../../lib/process-runner.js';
import { BackupMetadata, BackupType } from '../../../../../proto/gen/coffer/agent/v1/backup.js';
import { call, collect, startAgent, type AgentProcess } from '../../../../support/agent.js';
import { mariadbSocket } from '../../../../support/mariadb-client.js';

export const log = createLogger({ level: 'silent' });

export const socketOf = (a: AgentProcess): string => path.join(a.baseDir, 'run', 'mysqld.sock');

/** A started, prepared MariaDB instance with database shop and user alice. */
export async function preparedInstance(t: Parameters<typeof startAgent>[0]): Promise<AgentProcess> {
  const agent = await startAgent(t);
  const events = collect(
    agent.clients.lifecycle.prepare({
      datastoreVersion: '10.11',
      rootPassword: '',
      databases: [{ name: 'shop', characterSet: 'utf8mb4', collation: 'utf8mb4_general_ci' }],
      users: [{ name: 'alice', host: '%', password: 'Al1ce-pass', databases: ['shop'], rules: [] }],
      overrides: {},
      restore: undefined, replicaOf: undefined,
    }),
  );
  // A failed Prepare says "see the agent log": show it.
  await events.catch((err: Error) => {
    throw new Error(`Prepare failed: ${err.message}\n${agent.logs.filter((l) => /"level":(40|50|60)/.test(l)).join('\n')}`, { cause: err });
  });
  return agent;
}

/** The capability the agent's manager exposes, for this instance's base dir. */
export function backupFor(t: { teardown(fn: () => unknown): void }, a: AgentProcess): MysqlBackupCapability {
  const config = compileAgentConfig({}, { datastore: 'mariadb', baseDir: a.baseDir, datastorePort: a.datastorePort, insecure: true }, new Map([['mariadb', mariadbFactory]]));
  const manager = mariadbFactory.create({ config, layout: layoutFor(a.baseDir), runner: new ProcessRunner(log), log });
  t.teardown(() => manager.disconnect());
  return manager.backup as MysqlBackupCapability;
}

/** The same capability wired by hand, with a socket of our choosing (fault tests). */
export function backupWithSocket(t: { teardown(fn: () => unknown): void }, a: AgentProcess, socket: string): MysqlBackupCapability {
  const layout = layoutFor(a.baseDir);
  const secretFile = path.join(layout.agentDir, 'admin.secret');
  const sql = new SqlClient(socketOf(a), ADMIN_USER, () => readFileSync(secretFile, 'utf8').trim());
  t.teardown(() => sql.close());
  return createMysqlBackup({
    flavor: mariadbFlavor,
    layout,
    runner: new ProcessRunner(log),
    log,
    sql,
    socket,
    cnfFile: path.join(layout.etcDir, 'my.cnf'),
    secretFile,
    mysqlUser: () => lookupOsUser('mysql'),
  });
}

/** Runs SQL as the OS root over the socket; throws with the client's stderr. */
export async function rootSql(a: AgentProcess, sql: string): Promise<string> {
  const r = await mariadbSocket(socketOf(a), sql);
  if (r.code !== 0) throw new Error(`SQL failed (${r.code}): ${r.stderr}\n${sql}`);
  return r.stdout;
}

/** CHECKSUM TABLE over every base table outside the server's own schemas, plus row counts. */
export async function checksums(a: AgentProcess): Promise<Record<string, string>> {
  const tables = (
    await rootSql(
      a,
      `SELECT CONCAT('\`', TABLE_SCHEMA, '\`.\`', TABLE_NAME, '\`') FROM information_schema.TABLES
        WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
        ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    )
  )
    .split('\n')
    .filter(Boolean);
  const out: Record<string, string> = {};
  if (tables.length === 0) return out;
  for (const line of (await rootSql(a, `CHECKSUM TABLE ${tables.join(', ')} EXTENDED`)).split('\n').filter(Boolean)) {
    const [name, sum] = line.split('\t');
    out[name!] = sum!;
  }
  return out;
}

/** Writes a source's raw stream to a file and returns what the strategy recorded. */
export async function saveSource(source: BackupSource, file: string): Promise<Partial<BackupMetadata>> {
  await pipeline(source.stream, createWriteStream(file));
  return source.done;
}

/** A full metadata record, as the agent would store it, around what the strategy recorded. */
export function metadata(recorded: Partial<BackupMetadata>, fields: { backupId: string; strategy: string; parentId?: string }): BackupMetadata {
  return BackupMetadata.fromPartial({
    backupId: fields.backupId,
    type: fields.parentId ? BackupType.BACKUP_TYPE_INCREMENTAL : BackupType.BACKUP_TYPE_FULL,
    parentId: fields.parentId ?? '',
    strategy: fields.strategy,
    datastore: 'mariadb',
    datastoreVersion: '10.11',
    compression: 'none',
    createdAtMs: Date.now(),
    ...recorded,
    extra: { ...(recorded.extra ?? {}) },
  });
}

export const opener = (files: readonly string[]) => async (i: number) => createReadStream(files[i]!);

/** The agent's flow for a physical restore: Stop, empty the data dir, restore, Start. */
export async function physicalRestore(b: AgentProcess, cap: MysqlBackupCapability, chain: BackupMetadata[], files: string[]): Promise<void> {
  await call(b.clients.lifecycle, 'stop', {});
  const dataDir = path.join(b.baseDir, 'data');
  for (const e of readdirSync(dataDir)) rmSync(path.join(dataDir, e), { recursive: true, force: true });
  await cap.restore(chain, opener(files), new AbortController().signal);
  await call(b.clients.lifecycle, 'start', {});
}

/** Temporary files the capability must not leave behind: credentials under agent/, work dirs. */
export function leftovers(a: AgentProcess): string[] {
  const agentDir = path.join(a.baseDir, 'agent');
  const work = path.join(a.baseDir, 'work');
  return [
    ...readdirSync(agentDir).filter((f) => f.startsWith('client-')).map((f) => path.join(agentDir, f)),
    ...(existsSync(work) ? readdirSync(work).map((f) => path.join(work, f)) : []),
  ];
}

/** Pids of live processes whose command line contains every one of `parts`. */
export function processesWith(...parts: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue;
      if (parts.every((p) => cmd.includes(p))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** A few InnoDB tables with thousands of rows, a view, a routine and a trigger. */
export const POPULATE = `
CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, price DECIMAL(10,2), note TEXT, blob_col BLOB) ENGINE=InnoDB;
INSERT INTO shop.items SELECT seq, CONCAT('item-', seq), seq * 1.25, REPEAT(CHAR(65 + seq % 26), seq % 200), UNHEX(SHA2(seq, 256)) FROM shop.seq_1_to_6000;
CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, item_id INT NOT NULL, qty INT, created DATETIME, KEY (item_id)) ENGINE=InnoDB;
INSERT INTO shop.orders (item_id, qty, created) SELECT 1 + seq % 6000, seq % 7, '2024-01-01' + INTERVAL seq MINUTE FROM shop.seq_1_to_9000;
CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100)) ENGINE=InnoDB;
CREATE TRIGGER shop.orders_ai AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (what) VALUES (CONCAT('order ', NEW.id));
CREATE VIEW shop.big_orders AS SELECT o.id, i.name, o.qty FROM shop.orders o JOIN shop.items i ON i.id = o.item_id WHERE o.qty > 5;
CREATE FUNCTION shop.order_total(oid INT) RETURNS DECIMAL(12,2) READS SQL DATA RETURN (SELECT o.qty * i.price FROM shop.orders o JOIN shop.items i ON i.id = o.item_id WHERE o.id = oid);
CREATE PROCEDURE shop.restock(IN n INT) MODIFIES SQL DATA UPDATE shop.orders SET qty = qty + n WHERE qty = 0;
CREATE DATABASE crm;
CREATE TABLE crm.contacts (id INT PRIMARY KEY, email VARCHAR(100) UNIQUE, payload JSON) ENGINE=InnoDB;
INSERT INTO crm.contacts SELECT seq, CONCAT('c', seq, '@example.com'), JSON_OBJECT('n', seq, 'tag', 'x') FROM crm.seq_1_to_3000;
`;

/** Changes after the full backup: updates, deletes, inserts (the trigger fires), a new table. */
export const CHANGE = `
UPDATE shop.items SET price = price * 2 WHERE id % 3 = 0;
DELETE FROM shop.orders WHERE id % 10 = 0;
INSERT INTO shop.orders (item_id, qty, created) SELECT seq, 3, '2025-06-01' FROM shop.seq_1_to_500;
CREATE TABLE crm.notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
INSERT INTO crm.notes SELECT seq, REPEAT('n', seq) FROM crm.seq_1_to_1000;
CALL shop.restock(4);
`;
