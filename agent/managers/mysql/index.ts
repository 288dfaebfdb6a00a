import type { ManagerFactory } from '../manager.js';
import { createMysqlFamilyManager } from '../mysql-family/manager.js';
import { mysqlFlavor } from './flavor.js';

export const mysql: ManagerFactory = {
  versions: mysqlFlavor.versions,
  defaultVersion: mysqlFlavor.defaultVersion,
  defaultPort: 3306,
  create: (ctx) => createMysqlFamilyManager(mysqlFlavor, ctx),
};
