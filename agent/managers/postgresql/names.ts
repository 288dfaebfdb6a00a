// Validation of names and values before any SQL is built. Identifiers are
// checked here AND quoted where used (pg's escapeIdentifier), so a hostile
// name is refused with a message before anything runs, and a name that
// passes can still not break out of its quotes.
import { invalid } from '../../errors.js';
import { RESERVED_DATABASES, RESERVED_ROLES, RESERVED_ROLE_PREFIX } from './constants.js';

// PostgreSQL truncates identifiers to NAMEDATALEN-1 = 63 bytes; a longer
// name would silently become another one, so it is refused instead. The
// character sets are ASCII, so characters and bytes count the same.
export const MAX_IDENTIFIER = 63;
export const MAX_PASSWORD = 128;

const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_$-]*$/;
const ROLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
// Encodings (UTF8, LATIN1, SQL_ASCII) and libc locale names (C, POSIX,
// C.UTF-8, en_US.UTF-8, de_DE@euro).
const ENCODING = /^[A-Za-z0-9_]+$/;
const LOCALE = /^[A-Za-z0-9_.@-]+$/;
// Printable ASCII: a password is hashed by the agent (scram.ts), but control
// characters (newlines above all) have no place in one, and ASCII needs no
// SASLprep normalisation.
const PASSWORD = /^[\x20-\x7e]+$/;

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value);
}

export function checkDatabaseName(name: string): void {
  if (!name) throw invalid('database name is empty');
  if (name.length > MAX_IDENTIFIER) throw invalid(`database name ${show(name)} is longer than ${MAX_IDENTIFIER} characters`);
  if (!DB_NAME.test(name)) {
    throw invalid(`database name ${show(name)} may hold only letters, digits, "_", "$" and "-", and must not start with "$" or "-"`);
  }
  if (RESERVED_DATABASES.includes(name.toLowerCase())) throw invalid(`database name ${show(name)} is reserved`);
}

export function checkRoleName(name: string, what = 'user name'): void {
  if (!name) throw invalid(`${what} is empty`);
  if (name.length > MAX_IDENTIFIER) throw invalid(`${what} ${show(name)} is longer than ${MAX_IDENTIFIER} characters`);
  if (!ROLE_NAME.test(name)) {
    throw invalid(`${what} ${show(name)} may hold only letters, digits, "_", "." and "-", and must start with a letter, digit or "_"`);
  }
  const lower = name.toLowerCase();
  if (RESERVED_ROLES.includes(lower) || lower.startsWith(RESERVED_ROLE_PREFIX)) throw invalid(`${what} ${show(name)} is reserved`);
}

/**
 * PostgreSQL roles have no host part (pg_hba.conf decides where from). The
 * API's host is accepted empty or as "%" (what Trove clients send) and
 * refused otherwise, so nobody believes a host restriction was applied.
 */
export function checkHost(host: string): void {
  if (host !== '' && host !== '%') {
    throw invalid(`host ${show(host)} cannot be applied: PostgreSQL users have no host part; leave it empty or "%"`);
  }
}

export function checkPassword(password: string, what = 'password'): void {
  if (!password) throw invalid(`${what} is empty`);
  if (password.length > MAX_PASSWORD) throw invalid(`${what} is longer than ${MAX_PASSWORD} characters`);
  if (!PASSWORD.test(password)) throw invalid(`${what} may hold only printable ASCII characters`);
}

export function checkEncoding(value: string): void {
  if (value === '') return;
  if (value.length > 64 || !ENCODING.test(value)) throw invalid(`encoding ${show(value)} is not a valid encoding name`);
}

export function checkCollation(value: string): void {
  if (value === '') return;
  if (value.length > 64 || !LOCALE.test(value)) throw invalid(`collation ${show(value)} is not a valid locale name`);
}
