// The agent's ConsoleService on its own, against a real agent and Redis:
// the stream's rules (login first, one account, never the agent's), and
// the client's life bound to the stream's: cancelled by the caller, the
// client process is gone; half-closed, the client reads end of file; exited
// by itself, its status is the stream's last message.
import t from 'tap';
import { credentials, status as Status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ConsoleServiceClient, type ConsoleRequest, type ConsoleResponse } from '../../../proto/gen/coffer/agent/v1/console.js';
import { MAX_CONSOLE_SESSIONS } from '../../../agent/console/console-sessions.js';
import { waitFor } from '../../support/agent.js';
import { accounts, preparedRedis, user } from '../managers/redis/fixtures/instance.js';

const SIZE = { columns: 80, rows: 24 };

interface Session {
  stream: ClientDuplexStream<ConsoleRequest, ConsoleResponse>;
  screen(): string;
  exitCode(): number | undefined;
  ended: Promise<ServiceError | null>;
}

function open(client: ConsoleServiceClient, first: ConsoleRequest): Session {
  const stream = client.console();
  let screen = '';
  let code: number | undefined;
  stream.on('data', (m: ConsoleResponse) => {
    if (m.output) screen += m.output.toString('utf8');
    if (m.exitCode !== undefined) code = m.exitCode;
  });
  const ended = new Promise<ServiceError | null>((resolve) => {
    stream.on('error', (err: ServiceError) => resolve(err));
    stream.on('end', () => resolve(null));
  });
  stream.write(first);
  return { stream, screen: () => screen, exitCode: () => code, ended };
}

/** redis-cli processes running in a console session directory under baseDir. */
function clients(baseDir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'redis-cli' && readlinkSync(`/proc/${p}/cwd`).startsWith(baseDir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

t.test('ConsoleService on a Redis agent', async (t) => {
  const agent = await preparedRedis(t);
  await accounts(agent, 'createUsers', { users: [user('bob', 'Bob-pass-123', ['~*', '+@all'])] });
  const client = new ConsoleServiceClient(agent.address, credentials.createInsecure());
  t.teardown(() => client.close());
  const login = (patch: object = {}): ConsoleRequest => ({ login: { size: SIZE, user: 'bob', password: 'Bob-pass-123', root: false, database: '', term: '', ...patch } });

  t.test('refusals, before any client starts', async (t) => {
    const cases: Array<[string, ConsoleRequest, RegExp]> = [
      ['a size alone', { open: SIZE }, /first message must be login/],
      ['input first', { input: Buffer.from('PING\r') }, /first message must be login/],
      ['the agent\'s account, in any case', login({ user: 'COFFER_ADMIN' }), /the agent's own account/],
      ['a user and root', login({ root: true }), /either a user or root/],
      ['no account', login({ user: '' }), /no account/],
      ['no password', login({ password: '' }), /password is empty/],
      ['a zero size', login({ size: { columns: 0, rows: 24 } }), /columns must be an integer/],
      ['a terminal type that is not one', login({ term: 'xterm; rm -rf /' }), /terminal type/],
      ['a database that is not a number', login({ database: 'shop' }), /not a Redis database number/],
    ];
    for (const [what, first, details] of cases) {
      const s = open(client, first);
      const err = await s.ended;
      t.equal(err?.code, Status.INVALID_ARGUMENT, what);
      t.match(err?.details, details, `${what}: the message says why`);
    }
    const root = open(client, login({ user: '', root: true }));
    t.equal((await root.ended)?.code, Status.FAILED_PRECONDITION, 'root while it is not enabled');
    t.same(clients(agent.baseDir), [], 'no client was started');
  });

  t.test('a session: keys in, the screen out, the client\'s exit status last', async (t) => {
    const s = open(client, login());
    await waitFor('the prompt', async () => /redis\.sock> /.test(s.screen()));
    s.stream.write({ input: Buffer.from('PING\r') });
    await waitFor('PONG', async () => /PONG/.test(s.screen()));
    s.stream.write({ resize: { columns: 132, rows: 40 } });
    s.stream.write({ input: Buffer.from('quit\r') });
    t.equal(await s.ended, null, 'the stream ends cleanly');
    t.equal(s.exitCode(), 0, 'with redis-cli\'s exit status');
  });

  t.test('the caller\'s half-close is the end of its input: the client exits on it', async (t) => {
    const s = open(client, login());
    // At the prompt: redis-cli (linenoise) discards what was typed ahead of it.
    await waitFor('the prompt', async () => /redis\.sock> /.test(s.screen()));
    s.stream.write({ input: Buffer.from('SET k v\r') });
    s.stream.end();
    t.equal(await s.ended, null, 'the stream ends cleanly');
    t.match(s.screen(), /OK/, 'what was typed before ran');
    t.equal(s.exitCode(), 0, 'redis-cli exited on end of file, with status 0');
  });

  t.test(`at most ${MAX_CONSOLE_SESSIONS} sessions at once`, async (t) => {
    const open16 = Array.from({ length: MAX_CONSOLE_SESSIONS }, () => open(client, login()));
    await waitFor('every session at its prompt', async () => open16.every((s) => /redis\.sock> /.test(s.screen())), 60_000);
    const one = open(client, login());
    const err = await one.ended;
    t.equal(err?.code, Status.ABORTED, 'one more is refused as busy');
    t.match(err?.details, /sessions are open on this instance already/);
    for (const s of open16) s.stream.cancel();
    await waitFor('every client gone', async () => clients(agent.baseDir).length === 0, 30_000);
    const again = open(client, login());
    await waitFor('a new session, once the others ended', async () => /redis\.sock> /.test(again.screen()));
    again.stream.cancel();
    await again.ended;
  });

  t.test('the client never outlives its stream', async (t) => {
    const s = open(client, login());
    await waitFor('the prompt', async () => /redis\.sock> /.test(s.screen()));
    const [pid] = clients(agent.baseDir);
    t.ok(pid, 'the client runs');
    s.stream.cancel();
    await s.ended;
    await waitFor('the client gone once its stream was cancelled', async () => clients(agent.baseDir).length === 0, 30_000);
    t.pass(`redis-cli (pid ${pid}) is gone`);
    await waitFor('no session directory left', async () => readdirSync(`${agent.baseDir}/console`).length === 0, 30_000);
    t.pass('no session directory is left');
  });
});
