import type { ManagerFactory } from '../manager.js';
import { createMysqlFamilyManager } from '../mysql-family/manager.js';
import { mariadbFlavor } from './flavor.js';

export const mariadb: ManagerFactory = {
  versions: mariadbFlavor.versions,
  defaultVersion: mariadbFlavor.defaultVersion,
  defaultPort: 3306,
  create: (ctx) => createMysqlFamilyManager(mariadbFlavor, ctx),
};
