import type { ManagerFactory } from '../manager.js';
import { POSTGRESQL_DEFAULTS } from '../catalog.js';
import { createPostgresqlManager } from './manager.js';

export const postgresql: ManagerFactory = {
  ...POSTGRESQL_DEFAULTS,
  create: (ctx) => createPostgresqlManager(ctx),
};
