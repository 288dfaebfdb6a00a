import type { ManagerFactory } from '../manager.js';
import { MYSQL_DEFAULTS } from '../catalog.js';
import { createMysqlFamilyManager } from '../mysql-family/manager.js';
import { mysqlFlavor } from './flavor.js';

export const mysql: ManagerFactory = {
  ...MYSQL_DEFAULTS,
  create: (ctx) => createMysqlFamilyManager(mysqlFlavor, ctx),
};
