// Runs the real psql client as a user would: over TCP with the password in
// the environment (PGPASSWORD, never argv); or, for checks a user could not
// make, as the OS root over the instance's socket, which pg_hba.conf maps to
// the agent's role by peer authentication.
import { execFile } from 'node:child_process';
import path from 'node:path';

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile('psql', ['-X', '--quiet', '--no-align', '--tuples-only', '--set=ON_ERROR_STOP=1', ...args], { env: { ...process.env, PGCONNECT_TIMEOUT: '5', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout).trim(), stderr: String(stderr) });
    });
  });
}

/**
 * `env` adds libpq settings, e.g. PGSSLMODE and PGSSLROOTCERT; its PGHOST
 * (the name a certificate is checked against, with PGHOSTADDR the address)
 * replaces 127.0.0.1.
 */
export function psql(port: number, user: string, password: string, sql: string, database = 'postgres', env: NodeJS.ProcessEnv = {}): Promise<PsqlResult> {
  return run(['-h', env.PGHOST ?? '127.0.0.1', '-p', String(port), '-U', user, '-d', database, '-c', sql], { ...env, PGPASSWORD: password });
}

/** As the agent's role over the socket (peer: the test runs as root). */
export function psqlAdmin(baseDir: string, port: number, sql: string, database = 'postgres'): Promise<PsqlResult> {
  return run(['-h', path.join(baseDir, 'run'), '-p', String(port), '-U', 'coffer_admin', '-d', database, '-c', sql], { PGPASSWORD: '' });
}

/** The Prepare most PostgreSQL tests start from: database shop, user alice who can use it. */
export const SHOP_PREPARE = Object.freeze({
  datastoreVersion: '15',
  rootPassword: '',
  databases: [{ name: 'shop', characterSet: '', collation: '' }],
  users: [{ name: 'alice', host: '', password: 'Al1ce-pass', databases: ['shop'], rules: [] }],
  overrides: {},
  restore: undefined, replicaOf: undefined,
});
