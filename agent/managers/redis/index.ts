import type { ManagerFactory } from '../manager.js';
import { REDIS_DEFAULTS } from '../catalog.js';
import { createRedisManager } from './manager.js';

export const redis: ManagerFactory = {
  ...REDIS_DEFAULTS,
  create: (ctx) => createRedisManager(ctx),
};
