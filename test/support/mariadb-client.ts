// Runs the real mariadb command-line client as a user would, with the
// password in the environment (never argv).
import { execFile } from 'node:child_process';

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function mariadb(
  port: number,
  user: string,
  password: string,
  sql: string,
  database?: string,
  /** More client options, e.g. --ssl-ca=FILE. */
  extra: readonly string[] = [],
): Promise<ClientResult> {
  const args = ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', user, '--batch', '--skip-column-names', ...extra, '-e', sql];
  if (database) args.push(database);
  return new Promise((resolve) => {
    execFile('mariadb', args, { env: { ...process.env, MYSQL_PWD: password } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** As the OS root over the instance's socket (unix_socket auth): for checks a user could not make. */
export function mariadbSocket(socket: string, sql: string): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile('mariadb', ['--no-defaults', `--socket=${socket}`, '-u', 'root', '--batch', '--skip-column-names', '-e', sql], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
