// coffer console on a real terminal (node-pty runs the CLI), through a real
// control and real agents: a query typed into mariadb, psql and redis-cli
// shows its result; a wrong password ends with the client's own message
// and status; the agent's own account and a root that is not enabled are
// refused; the client cannot start a shell; a window size change reaches
// the client; and the client is gone once the terminal goes away.
import t from 'tap';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { COFFER_BIN, cliFor, json, secretFile } from './coffer-cli.js';
import { ccall, startControl } from '../support/control.js';
import { waitFor } from '../support/agent.js';
import { openTerminal, type Terminal } from '../support/terminal.js';

/** Pids of console clients (mariadb, psql, redis-cli) whose session directory is under dir. */
function consoleClients(dir: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!['mariadb', 'mysql', 'psql', 'redis-cli'].includes(comm)) continue;
      if (readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

t.test('coffer console on mariadb, postgresql and redis', async (t) => {
  const control = await startControl(t);
  const token = control.token('console');
  const cli = cliFor(control.address, token);
  const dir = path.dirname(control.dataDir);
  const alicePw = secretFile(dir, 'alice.pw', 'Alice-pass-1');
  const rootPw = secretFile(dir, 'root.pw', 'Root-pass-12');
  const wrongPw = secretFile(dir, 'wrong.pw', 'Not-her-pass');

  // Three instances built side by side.
  const made = await Promise.all([
    cli(['instance', 'create', 'maria', '--database', 'shop', '--user', 'alice', '--password-file', alicePw, '--root-password-file', rootPw, '--json']),
    cli(['instance', 'create', 'pg', '--datastore', 'postgresql', '--database', 'shop', '--user', 'alice', '--password-file', alicePw, '--json']),
    cli(['instance', 'create', 'cache', '--datastore', 'redis', '--json']),
  ]);
  for (const r of made) t.equal(r.code, 0, r.stderr);
  const cacheId = json<{ id: string }>(made[2]!).id;
  await ccall(control.clients.accounts, 'createUsers', { instanceId: cacheId, users: [{ name: 'bob', host: '', password: 'Bob-pass-123', databases: [], rules: ['~*', '+@all'] }] }, token);
  const bobPw = secretFile(dir, 'bob.pw', 'Bob-pass-123');

  const env = { COFFER_ENDPOINT: control.address, COFFER_TOKEN: token, COFFER_PLAINTEXT: '1' };
  const terminals: Terminal[] = [];
  t.teardown(() => terminals.forEach((term) => term.kill()));
  const consoleOn = (args: string[], size?: { columns: number; rows: number }, token?: string): Terminal => {
    const term = openTerminal([process.execPath, COFFER_BIN, 'console', ...args], token ? { ...env, COFFER_TOKEN: token } : env, size);
    terminals.push(term);
    return term;
  };

  t.test('mariadb: a query and its rows, as alice', async (t) => {
    const term = consoleOn(['maria', '--user', 'alice', '--password-file', alicePw]);
    // Typed ahead, before the client has even started: it waits for the client.
    term.type('SELECT CONCAT(6 * 7, \'!\') AS answer, CURRENT_USER() AS who;\r');
    await term.waitFor(/\| 42!\s+\| alice@%\s+\|/);
    // The password is on no command line, and its option file was removed once read.
    const [pid] = consoleClients(control.dataDir);
    t.ok(pid, 'the client runs in a session directory of the instance');
    t.notMatch(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /Alice-pass-1/, 'not on the client\'s argv');
    t.same(readdirSync(readlinkSync(`/proc/${pid}/cwd`)), [], 'the option file is gone from the session directory');
    await term.waitFor(/MariaDB \[\(none\)\]> $/);
    // --sandbox: the client's way to a program is closed.
    const at2 = term.text().length;
    term.type('system id\r');
    await term.waitFor(/sandbox/i, at2);
    term.type('exit\r');
    t.equal(await term.exited, 0, 'exit ends the console with status 0');
    t.notMatch(term.text(), /uid=\d+/, 'no program ran');
  });

  t.test('mariadb: root, where it is enabled, with the password asked without echo', async (t) => {
    const term = consoleOn(['maria']);
    await term.waitFor(/password for root: $/);
    term.type('Root-pass-12\r');
    await term.waitFor(/MariaDB \[\(none\)\]> /);
    t.notMatch(term.text(), /Root-pass-12/, 'the password was not echoed');
    const at = term.text().length;
    term.type('SELECT CURRENT_USER() AS who;\r');
    await term.waitFor(/\| root@%\s+\|/, at);
    term.type('\\q\r');
    t.equal(await term.exited, 0);
  });

  t.test('mariadb: a wrong password ends with the client\'s own message and status', async (t) => {
    const term = consoleOn(['maria', '--user', 'alice', '--password-file', wrongPw]);
    t.equal(await term.exited, 1, 'the mariadb client\'s exit status');
    t.match(term.text(), /ERROR 1045 \(28000\): Access denied for user 'alice'/, 'its own message');
    t.notMatch(term.text(), /Not-her-pass|Alice-pass-1/, 'no password shown');
  });

  t.test('the agent\'s own account and an instance of another project are refused', async (t) => {
    const admin = consoleOn(['maria', '--user', 'coffer_admin', '--password-file', alicePw]);
    t.equal(await admin.exited, 3, 'refused as invalid');
    t.match(admin.text(), /coffer_admin.* is the agent's own account; the console never logs in as it/);
    const other = consoleOn([json<{ id: string }>(made[0]!).id, '--user', 'alice', '--password-file', alicePw], undefined, control.token('elsewhere'));
    t.equal(await other.exited, 5, 'another project\'s instance does not exist');
  });

  t.test('postgresql: a query, a resize the client sees, no shell, and the client gone with the terminal', async (t) => {
    const term = consoleOn(['pg', '--user', 'alice', '--password-file', alicePw], { columns: 120, rows: 30 });
    await term.waitFor(/shop=> $/m);
    let at = term.text().length;
    term.type("SELECT 6 * 7 AS answer, current_user AS who, current_database() AS db;\r");
    await term.waitFor(/42 \| alice \| shop/, at);

    // \x auto shows a row wider than the terminal as a record: 72
    // characters fit in 120 columns, not in 40.
    term.type('\\x auto\r');
    at = term.text().length;
    term.type("SELECT 1 AS n, repeat('w', 70) AS wide;\r");
    await term.waitFor(/1 \| w{70}/, at);
    t.notMatch(term.text().slice(at), /RECORD 1/, 'at 120 columns the row fits');
    // The new size travels CLI -> control -> agent beside the keystrokes, as
    // a person's does: ask again until psql answers at the new size.
    term.resize(40, 30);
    await waitFor('psql to show the row as a record at 40 columns', async () => {
      at = term.text().length;
      term.type("SELECT 2 AS n, repeat('w', 70) AS wide;\r");
      await term.waitFor(/\(1 row\)|RECORD 1[^]*w{70}/, at);
      return /RECORD 1/.test(term.text().slice(at));
    });
    t.pass('at 40 columns it is shown as a record: the new size reached psql');

    // psql's \! needs a second process, which the console's client may not start.
    at = term.text().length;
    term.type('\\! id\r');
    term.type("SELECT 'after' || 'shell' AS probe;\r");
    await term.waitFor(/aftershell/, at);
    t.notMatch(term.text().slice(at), /uid=\d+/, 'no shell ran');

    const clients = await waitFor('the psql of this session', async () => {
      const pids = consoleClients(control.dataDir);
      return pids.length === 1 ? pids : null;
    });
    term.kill('SIGKILL');
    await term.exited;
    await waitFor('the client to be gone after the terminal went away', async () => consoleClients(control.dataDir).length === 0, 30_000);
    t.pass(`psql (pid ${clients[0]}) is gone`);
  });

  t.test('postgresql: a wrong password ends with psql\'s own message and status', async (t) => {
    const term = consoleOn(['pg', '--user', 'alice', '--password-file', wrongPw]);
    t.equal(await term.exited, 2, 'psql\'s exit status for a failed connection');
    t.match(term.text(), /password authentication failed for user "alice"/);
  });

  t.test('redis: commands as bob; root is refused while it is not enabled', async (t) => {
    const term = consoleOn(['cache', '--user', 'bob', '--password-file', bobPw]);
    await term.waitFor(/redis\.sock> /);
    let at = term.text().length;
    term.type('SET greeting hello\r');
    await term.waitFor(/OK/, at);
    at = term.text().length;
    term.type('GET greeting\r');
    await term.waitFor(/"hello"/, at);
    term.type('quit\r');
    t.equal(await term.exited, 0);

    // redis-cli stays at its prompt after a refused AUTH: the agent ends the session on its message.
    const wrong = consoleOn(['cache', '--user', 'bob', '--password-file', wrongPw]);
    t.equal(await wrong.exited, 1, 'a wrong password ends the session with status 1');
    t.match(wrong.text(), /AUTH failed: WRONGPASS/, 'redis-cli\'s own message');

    const root = consoleOn(['cache', '--password-file', rootPw]);
    t.equal(await root.exited, 6, 'root refused while not enabled');
    t.match(root.text(), /root is not enabled on this instance/);
  });

  t.test('no console client is left, and no password in an agent\'s log', async (t) => {
    await waitFor('every console client gone', async () => consoleClients(control.dataDir).length === 0, 30_000);
    t.pass('every client is gone');
    const instances = path.join(control.dataDir, 'instances');
    for (const id of readdirSync(instances)) {
      const log = readFileSync(path.join(instances, id, 'agent.log'), 'utf8');
      t.match(log, /console session started/, `agent ${id} logged its sessions`);
      for (const pw of ['Alice-pass-1', 'Root-pass-12', 'Not-her-pass', 'Bob-pass-123']) t.notOk(log.includes(pw), `agent ${id}'s log holds no password`);
    }
  });
});
