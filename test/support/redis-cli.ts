// Redis clients as a user would run them: redis-cli with the password in
// REDISCLI_AUTH (never argv), and ioredis over TCP for checks that need
// typed replies.
import { execFile } from 'node:child_process';
import { Redis } from 'ioredis';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** redis-cli against 127.0.0.1:port as `user` (empty: AUTH with the password only, i.e. the default user). */
export function redisCli(port: number, user: string, password: string, args: readonly string[]): Promise<CliResult> {
  const argv = ['-h', '127.0.0.1', '-p', String(port), ...(user ? ['--user', user] : []), ...args];
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (password) env.REDISCLI_AUTH = password;
  else delete env.REDISCLI_AUTH;
  return new Promise((resolve) => {
    execFile('redis-cli', argv, { env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * An ioredis connection over TCP, authenticated as `user` (or, with user
 * empty, as the default user by password). Rejects if authentication fails.
 * Closed in the test's teardown.
 */
export async function connectAs(
  t: { teardown(fn: () => unknown): void },
  port: number,
  user: string,
  password: string,
): Promise<Redis> {
  const client = new Redis(port, '127.0.0.1', {
    ...(user ? { username: user } : {}),
    ...(password ? { password } : {}),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
  // ioredis reports a refused AUTH as an 'error' event and then rejects
  // connect() with "Connection is closed": keep the server's reason.
  let lastError: Error | null = null;
  client.on('error', (err: Error) => (lastError = err));
  t.teardown(() => client.disconnect());
  try {
    await client.connect();
  } catch (err) {
    throw lastError ?? err;
  }
  return client;
}

/** The error message of a command that should fail, or '' if it succeeded. */
export async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return '';
  } catch (err) {
    return String((err as Error).message);
  }
}
