import type { ManagerFactory } from '../manager.js';
import { createRedisManager } from './manager.js';

// "7.0": the major.minor Debian 12 ships (7.0.x), as MariaDB's "10.11": the
// ACL and configuration rules (rules/redis-7.0.json) are per minor version.
export const redis: ManagerFactory = {
  versions: ['7.0'],
  defaultVersion: '7.0',
  defaultPort: 6379,
  create: (ctx) => createRedisManager(ctx),
};
