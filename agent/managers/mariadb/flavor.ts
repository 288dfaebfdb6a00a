import type { MysqlFlavor } from '../mysql-family/flavor.js';
import { ADMIN_USER } from '../mysql-family/flavor.js';

export const mariadbFlavor: MysqlFlavor = Object.freeze({
  name: 'mariadb',
  versions: ['10.11'],
  defaultVersion: '10.11',
  maxUserNameLength: 80,
  // mariadb.sys owns the sys views; mysql@localhost is created by
  // mariadb-install-db for the OS user of the same name.
  reservedUsers: ['root', ADMIN_USER, 'mariadb.sys', 'mysql', 'PUBLIC'],
  gtidPositionSql: 'SELECT @@GLOBAL.gtid_current_pos AS gtid',
  backupTool: 'mariadb-backup',
});
