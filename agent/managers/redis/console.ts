// The console's client for Redis: redis-cli over the server's unix socket.
// The socket is 0700 (redis-conf.ts): only the redis OS account and root
// reach it, so redis-cli runs as the redis account, which is harmless here:
// redis-cli has no command that reads or writes a local file or starts a
// program, and the console core forbids it any further process anyway.
// The password goes in REDISCLI_AUTH, redis-cli's own variable.
import type { OsUser } from '../../../lib/os-user.js';
import { requireProgram } from '../../../lib/which.js';
import type { ConsoleCapability, ConsoleLoginInput, ConsolePlan } from '../manager.js';
import { invalid } from '../../errors.js';
import { ADMIN_USER, checkUserName } from './names.js';

export function redisConsole(opts: { socket: string; redisUser: () => OsUser }): ConsoleCapability {
  return {
    adminUser: ADMIN_USER,
    // Root is Redis's `default` user (accounts.ts): AUTH with a password alone.
    rootUser: 'default',
    async plan(login: ConsoleLoginInput, _dir: string): Promise<ConsolePlan> {
      if (!login.root) checkUserName(login.user);
      // Redis's databases are numbered (16 by default).
      if (login.database && !/^(?:[0-9]|1[0-5])$/.test(login.database)) throw invalid(`database ${JSON.stringify(login.database)} is not a Redis database number (0-15)`);
      const client = requireProgram('redis-cli', 'redis-cli');
      return {
        argv: [client, '-s', opts.socket, '--no-auth-warning', ...(login.root ? [] : ['--user', login.user]), ...(login.database ? ['-n', login.database] : [])],
        env: { REDISCLI_AUTH: login.password, REDISCLI_HISTFILE: '/dev/null', REDISCLI_RCFILE: '/dev/null' },
        secretFiles: {},
        osUser: opts.redisUser(),
        // redis-cli reports a refused AUTH and stays at its prompt, where every command would answer NOAUTH.
        failedLogin: /^AUTH failed: /m,
      };
    },
  };
}
