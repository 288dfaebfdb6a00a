// The datastores this agent can manage, by name. A static table: nothing is
// loaded from a name given in configuration.
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
