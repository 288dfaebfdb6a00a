import type { MysqlFlavor } from '../mysql-family/flavor.js';
import { ADMIN_USER } from '../mysql-family/flavor.js';

// MySQL 8.0's rules. The server binary on these machines is MariaDB's; see
// mysql-family/flavor.ts.
export const mysqlFlavor: MysqlFlavor = Object.freeze({
  name: 'mysql',
  versions: ['8.0'],
  defaultVersion: '8.0',
  maxUserNameLength: 32,
  reservedUsers: ['root', ADMIN_USER, 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'mariadb.sys', 'mysql', 'PUBLIC'],
  gtidPositionSql: 'SELECT @@GLOBAL.gtid_executed AS gtid',
  backupTool: 'xtrabackup',
});
