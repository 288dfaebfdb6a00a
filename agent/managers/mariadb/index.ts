import type { ManagerFactory } from '../manager.js';
import { MARIADB_DEFAULTS } from '../catalog.js';
import { createMysqlFamilyManager } from '../mysql-family/manager.js';
import { mariadbFlavor } from './flavor.js';

export const mariadb: ManagerFactory = {
  ...MARIADB_DEFAULTS,
  create: (ctx) => createMysqlFamilyManager(mariadbFlavor, ctx),
};
