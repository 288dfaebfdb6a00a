// Every datastore manager, loaded at once, by name. The agent itself loads
// only the one it manages, through catalog.ts (same names, same defaults); this
// eager table is for code that wants them all (tests that build a manager
// in-process).
import type { ManagerFactory } from './manager.js';
import { mariadb } from './mariadb/index.js';
import { mysql } from './mysql/index.js';
import { postgresql } from './postgresql/index.js';
import { redis } from './redis/index.js';

export const MANAGERS: ReadonlyMap<string, ManagerFactory> = new Map<string, ManagerFactory>([
  ['mariadb', mariadb],
  ['mysql', mysql],
  ['postgresql', postgresql],
  ['redis', redis],
]);
