// Databases, users, access and root through the coffer CLI change what the
// real mariadb client sees; a hostile name is refused with a message that
// names the field, and passwords never travel on argv.
import t from 'tap';
import path from 'node:path';
import { mariadb } from '../support/mariadb-client.js';
import { startControl } from '../support/control.js';
import { cliFor, json, secretFile, STACK } from './coffer-cli.js';

t.test('databases, users and root through the coffer CLI', async (t) => {
  const control = await startControl(t);
  const cli = cliFor(control.address, control.token('accounts'));
  const dir = path.dirname(control.dataDir);
  const created = await cli(['instance', 'create', 'crm', '--json']);
  t.equal(created.code, 0, created.stderr);
  const { port } = json<{ port: number }>(created);

  // Databases.
  const db = await cli(['database', 'create', 'crm', 'sales', 'billing']);
  t.equal(db.code, 0, db.stderr);
  t.match(db.stdout, /created databases sales, billing/);
  const dbs = await cli(['database', 'list', 'crm']);
  t.match(dbs.stdout, /^NAME\s+CHARACTER SET\s+COLLATION$/m, 'database list prints a table');
  t.match(dbs.stdout, /^sales\s/m);
  t.same(json<Array<{ name: string }>>(await cli(['database', 'list', 'crm', '--json'])).map((d) => d.name).sort(), ['billing', 'sales'], 'and --json');

  // Users: the password from a 0600 file, from stdin.
  const pw = secretFile(dir, 'alice.password', 'Alice-pass-1');
  const u = await cli(['user', 'create', 'crm', 'alice', '--database', 'sales', '--password-file', pw]);
  t.equal(u.code, 0, u.stderr);
  t.equal(u.stderr, '', 'a 0600 password file draws no warning');
  const bob = await cli(['user', 'create', 'crm', 'bob', '--password-file', '-'], { input: 'Bob-pass-1\n' });
  t.equal(bob.code, 0, bob.stderr);
  t.equal((await mariadb(port, 'bob', 'Bob-pass-1', 'SELECT 1')).code, 0, 'a user whose password came on stdin logs in');

  let seen = await mariadb(port, 'alice', 'Alice-pass-1', 'SHOW DATABASES');
  t.equal(seen.code, 0, seen.stderr);
  t.ok(seen.stdout.split('\n').includes('sales'), 'alice sees sales');
  t.notOk(seen.stdout.split('\n').includes('billing'), 'but not billing');
  t.match((await cli(['user', 'list', 'crm'])).stdout, /^alice\s+%\s+sales$/m, 'user list shows alice and her databases');
  t.match((await cli(['user', 'show', 'crm', 'alice'])).stdout, /^databases\s+sales$/m, 'user show');

  t.equal((await cli(['user', 'grant', 'crm', 'alice', 'billing'])).code, 0);
  seen = await mariadb(port, 'alice', 'Alice-pass-1', 'SHOW DATABASES');
  t.ok(seen.stdout.split('\n').includes('billing'), 'after grant alice sees billing');
  t.same(json<string[]>(await cli(['user', 'access', 'crm', 'alice', '--json'])).sort(), ['billing', 'sales'], 'user access lists both');

  t.equal((await cli(['user', 'revoke', 'crm', 'alice', 'sales'])).code, 0);
  seen = await mariadb(port, 'alice', 'Alice-pass-1', 'SHOW DATABASES');
  t.notOk(seen.stdout.split('\n').includes('sales'), 'after revoke alice no longer sees sales');

  t.equal((await cli(['database', 'delete', 'crm', 'billing'])).code, 0);
  seen = await mariadb(port, 'alice', 'Alice-pass-1', 'SHOW DATABASES');
  t.notOk(seen.stdout.split('\n').includes('billing'), 'a deleted database is gone');

  t.equal((await cli(['user', 'delete', 'crm', 'alice'])).code, 0);
  t.not((await mariadb(port, 'alice', 'Alice-pass-1', 'SELECT 1')).code, 0, 'a deleted user can no longer log in');
  const missing = await cli(['user', 'show', 'crm', 'alice']);
  t.equal(missing.code, 5, 'showing a deleted user is not found');

  // Root: generated and shown once; then disabled.
  t.match((await cli(['root', 'show', 'crm'])).stdout, /root enabled\s+no/);
  const root = json<{ name: string; password: string }>(await cli(['root', 'enable', 'crm', '--json']));
  t.ok(root.password.length >= 12, 'root enable returns a generated password');
  t.equal((await mariadb(port, root.name, root.password, 'SELECT 1')).code, 0, 'root logs in with it');
  t.same(json(await cli(['root', 'show', 'crm', '--json'])).enabled, true, 'root show says enabled');
  t.equal((await cli(['root', 'disable', 'crm'])).code, 0);
  t.not((await mariadb(port, root.name, root.password, 'SELECT 1')).code, 0, 'after disable root cannot log in');

  // A hostile name is refused by name, with no stack trace and exit 3.
  const hostile = await cli(['database', 'create', 'crm', 'x`; DROP DATABASE mysql; --']);
  t.equal(hostile.code, 3, 'invalid input exits 3');
  t.match(hostile.stderr, /^coffer: the request was refused as invalid: database name .* may hold only/m, 'the message names the field and what is allowed');
  t.notMatch(hostile.stderr, STACK, 'no stack trace');
  const hostileUser = await cli(['user', 'create', 'crm', "eve'@'%", '--password-file', '-'], { input: 'Eve-pass-1\n' });
  t.equal(hostileUser.code, 3, 'a hostile user name exits 3');
  t.match(hostileUser.stderr, /user name/i, 'and names the user name');

  // Secrets never on argv: refused with the way to do it.
  const argvPw = await cli(['user', 'create', 'crm', 'mallory', '--password', 'Mallory-1']);
  t.equal(argvPw.code, 2, '--password on argv is a usage error');
  t.match(argvPw.stderr, /--password is refused: .* use --password-file FILE/);
  const shared = secretFile(dir, 'shared.password', 'Shared-pass-1');
  const { chmodSync } = await import('node:fs');
  chmodSync(shared, 0o644);
  const warned = await cli(['user', 'create', 'crm', 'carol', '--password-file', shared]);
  t.equal(warned.code, 0, warned.stderr);
  t.match(warned.stderr, /readable by other users .* chmod 600/, 'a world-readable password file draws a warning');
  const noPw = await cli(['user', 'create', 'crm', 'dave']);
  t.equal(noPw.code, 2, 'no password at all (stdin empty, not a terminal) is a usage error');
  t.match(noPw.stderr, /password for user dave@% on stdin is empty/);
});
