import type { ManagerFactory } from '../manager.js';
import { createPostgresqlManager } from './manager.js';

export const postgresql: ManagerFactory = {
  versions: ['15'],
  defaultVersion: '15',
  defaultPort: 5432,
  create: (ctx) => createPostgresqlManager(ctx),
};
