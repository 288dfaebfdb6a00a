// Redis clients as a user would run them: redis-cli with the password in
// REDISCLI_AUTH (never argv), and ioredis over TCP for checks that need
// typed replies. An instance with TLS material serves only TLS: give the
// CA its certificate is verified with (the deployment's).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis } from 'ioredis';

/** TLS to an instance: the CA (PEM file) that signed its certificate. */
export interface RedisTls {
  readonly ca: string;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** redis-cli against 127.0.0.1:port as `user` (empty: AUTH with the password only, i.e. the default user); over TLS when `tls` is given. */
export function redisCli(port: number, user: string, password: string, args: readonly string[], tls?: RedisTls): Promise<CliResult> {
  const argv = ['-h', '127.0.0.1', '-p', String(port), ...(tls ? ['--tls', '--cacert', tls.ca] : []), ...(user ? ['--user', user] : []), ...args];
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
 * empty, as the default user by password), over TLS verified against
 * `tls.ca` (certificate chain and address) when given. Rejects if
 * authentication fails. Closed in the test's teardown.
 */
export async function connectAs(
  t: { teardown(fn: () => unknown): void },
  port: number,
  user: string,
  password: string,
  tls?: RedisTls,
): Promise<Redis> {
  const client = new Redis(port, '127.0.0.1', {
    ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}),
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

/**
 * A plaintext client on a raw socket: sends each command (RESP arrays of
 * commands with simple replies: AUTH, PING) and resolves what the server
 * sent, once it has answered every command (the connection then closed by
 * us: `closed` false) or once it closed the connection (`closed` true). A
 * plaintext server answers (+OK, +PONG); a TLS-only port takes the bytes
 * for a broken handshake and closes the connection without a reply.
 */
export function plaintextExchange(port: number, commands: ReadonlyArray<readonly string[]>, timeoutMs = 30_000): Promise<{ answer: string; closed: boolean }> {
  const resp = commands.map((c) => `*${c.length}\r\n` + c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')).join('');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${timeoutMs} ms; got ${JSON.stringify(answer)}`));
    }, timeoutMs);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer, closed });
    };
    socket.on('connect', () => socket.write(resp));
    socket.on('data', (b: Buffer) => {
      answer += b.toString('latin1');
      if (answer.split('\r\n').filter((l) => /^[+-]/.test(l)).length >= commands.length) done(false);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}
