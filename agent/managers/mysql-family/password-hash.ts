// Passwords reach the server as their mysql_native_password hash, never in
// clear: MariaDB writes CREATE USER / ALTER USER ... IDENTIFIED BY 'clear'
// into the binary log as it was typed, and the binary log goes to every
// replica (and into backups' binlog copies). `IDENTIFIED WITH
// mysql_native_password AS '<hash>'` is accepted by MariaDB and by Oracle
// MySQL 8.0 alike.
import { createHash } from 'node:crypto';

/** '*' and the upper-case hex of SHA1(SHA1(password)), as PASSWORD() gives it. */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return '*' + createHash('sha1').update(once).digest('hex').toUpperCase();
}

/** The clause that sets an account's password (the hash goes as an escaped value). */
export const IDENTIFIED_BY_HASH = 'IDENTIFIED WITH mysql_native_password AS ?';
