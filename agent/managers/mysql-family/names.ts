// Validation of names and values before any SQL is built. MySQL's limits and
// Trove's rules: identifiers are checked here AND escaped when used, so a
// hostile name is refused with a message before anything runs.
import { invalid } from '../../errors.js';
import { REPLICATION_USER_PREFIX, RESERVED_DATABASES, type MysqlFlavor } from './flavor.js';

const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]*$/;
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// Host patterns: names, IPv4/IPv6 literals, and the % and _ wildcards.
const HOST = /^[A-Za-z0-9.%_:-]+$/;
const CHARSET = /^[A-Za-z0-9_]+$/;
// Printable ASCII: passwords travel as escaped SQL string literals, and
// control characters (newlines above all) have no place in one.
const PASSWORD = /^[\x20-\x7e]+$/;

export const MAX_DB_NAME = 64;
export const MAX_HOST = 255;
export const MAX_PASSWORD = 128;

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
}

export function checkDatabaseName(name: string): void {
  if (!name) throw invalid('database name is empty');
  if (name.length > MAX_DB_NAME) throw invalid(`database name ${show(name)} is longer than ${MAX_DB_NAME} characters`);
  if (!DB_NAME.test(name)) {
    throw invalid(`database name ${show(name)} may hold only letters, digits, "_", "$" and "-", and must not start with "$" or "-"`);
  }
  if (RESERVED_DATABASES.includes(name.toLowerCase())) throw invalid(`database name ${show(name)} is reserved`);
}

export function checkUserName(name: string, flavor: MysqlFlavor): void {
  if (!name) throw invalid('user name is empty');
  if (name.length > flavor.maxUserNameLength) {
    throw invalid(`user name ${show(name)} is longer than ${flavor.maxUserNameLength} characters (${flavor.name})`);
  }
  if (!USER_NAME.test(name)) {
    throw invalid(`user name ${show(name)} may hold only letters, digits, "_", "." and "-", and must start with a letter, digit or "_"`);
  }
  if (flavor.reservedUsers.some((r) => r.toLowerCase() === name.toLowerCase())) {
    throw invalid(`user name ${show(name)} is reserved`);
  }
  if (name.toLowerCase().startsWith(REPLICATION_USER_PREFIX)) {
    throw invalid(`user name ${show(name)} is reserved: names starting with "${REPLICATION_USER_PREFIX}" are replication accounts`);
  }
}

/** Empty means "%" (any host), as in Trove. */
export function normalizeHost(host: string): string {
  const h = host === '' ? '%' : host;
  if (h.length > MAX_HOST) throw invalid(`host ${show(h)} is longer than ${MAX_HOST} characters`);
  if (!HOST.test(h)) throw invalid(`host ${show(h)} may hold only letters, digits, ".", ":", "-", "_" and "%"`);
  return h;
}

export function checkPassword(password: string, what = 'password'): void {
  if (!password) throw invalid(`${what} is empty`);
  if (password.length > MAX_PASSWORD) throw invalid(`${what} is longer than ${MAX_PASSWORD} characters`);
  if (!PASSWORD.test(password)) throw invalid(`${what} may hold only printable ASCII characters`);
}

export function checkCharset(value: string, what: 'character set' | 'collation'): void {
  if (value === '') return;
  if (value.length > 64 || !CHARSET.test(value)) throw invalid(`${what} ${show(value)} is not a valid name`);
}
