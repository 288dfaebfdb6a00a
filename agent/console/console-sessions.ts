// Console sessions: the datastore's own client (the manager's console
// capability says which, with which arguments) on a pseudo-terminal of its
// own, logged in as the account the caller named. What makes it safe:
// - never the agent's account (refused by name, login.ts) and never a
//   shell: the argv is the client's, started through setpriv and prlimit
//   (util-linux, no shell), which drop to the session's OS account with no
//   supplementary groups and no way to gain privileges, and limit that
//   account to the processes it has (RLIMIT_NPROC 1), so the client's own
//   ways to start a program (\! in psql and mariadb, a pager, an editor)
//   fail to fork;
// - the password only in the client's own secret channel (the plan's env
//   or a 0600 file owned by the session's account, removed as soon as the
//   client has read it, i.e. at its first output), never argv or a log;
// - the client never outlives the session: when the caller goes away the
//   signal stops it (SIGHUP to its process group, then SIGKILL), and if the
//   agent itself dies the kernel hangs up its terminal.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger.js';
import { describeExit, type Exit, type ProcessRunner, type PtyChild } from '../../lib/process-runner.js';
import { requireProgram } from '../../lib/which.js';
import type { ConsoleLogin } from '../../proto/gen/coffer/agent/v1/console.js';
import { AgentError, unimplemented } from '../errors.js';
import type { DatastoreManager } from '../managers/manager.js';
import { checkLogin } from './login.js';
import { SessionUids } from './session-uids.js';

export interface ConsoleDeps {
  readonly manager: DatastoreManager;
  readonly runner: ProcessRunner;
  readonly log: Logger;
  /** The instance's base dir: sessions' private directories go under <baseDir>/console. */
  readonly baseDir: string;
  /** Throws NOT_READY unless the datastore runs. */
  requireRunning(what: string): void;
}

/** A running session: the client's terminal. */
export interface ConsoleSession {
  readonly pid: number;
  write(input: Buffer): void;
  resize(columns: number, rows: number): void;
  /** The client's exit code (128 + the signal's number when a signal ended it). */
  readonly exited: Promise<number>;
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
/** How much of a session's first output may say that its login failed (plan.failedLogin). */
const FAILED_LOGIN_WINDOW = 4096;
const exitCode = (e: Exit): number => e.code ?? 128 + (SIGNAL_NUMBERS[e.signal ?? ''] ?? 0);

/**
 * Sessions one agent runs at once: each is a client process and a
 * connection to the datastore, and a console is for a person, not a pool.
 */
export const MAX_CONSOLE_SESSIONS = 16;

export class ConsoleSessions {
  private readonly uids = new SessionUids();
  private readonly root: string;
  private live = 0;

  constructor(private readonly deps: ConsoleDeps) {
    this.root = path.join(deps.baseDir, 'console');
    // What sessions of an agent that was killed left (an option file among them).
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Starts the client; resolves once it runs. `output` gets every byte of its terminal. */
  async open(login: ConsoleLogin, output: (chunk: Buffer) => void, signal: AbortSignal): Promise<ConsoleSession> {
    const { manager, runner, log } = this.deps;
    const capability = manager.console;
    if (!capability) throw unimplemented('console', manager.name);
    const checked = checkLogin(login, capability);
    this.deps.requireRunning('open a console');
    if (checked.root && !(await manager.accounts?.isRootEnabled())) {
      throw new AgentError('AGENT_ERR_NOT_READY', 'root is not enabled on this instance: enable it first, or log in as a user');
    }
    if (this.live >= MAX_CONSOLE_SESSIONS) {
      throw new AgentError('AGENT_ERR_BUSY', `${MAX_CONSOLE_SESSIONS} console sessions are open on this instance already; end one first`);
    }
    // 0711: a session's account may pass through to its own directory, not list the others.
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    chmodSync(this.root, 0o711);
    const dir = mkdtempSync(path.join(this.root, 's-'));
    // Counted from here to cleanup(): a login that fails below gives its place back.
    this.live++;
    let uid: number | undefined;
    const cleanup = (): void => {
      this.live--;
      rmSync(dir, { recursive: true, force: true });
      if (uid !== undefined) this.uids.release(uid);
    };
    let child: PtyChild;
    let loginFailed = false;
    /** Input that came before the client's first output; null once it has spoken. */
    let typeAhead: Buffer[] | null = [];
    try {
      const plan = await capability.plan(checked, dir);
      const owner = plan.osUser === 'session' ? ((uid = this.uids.acquire()), { uid, gid: uid }) : plan.osUser;
      chownSync(dir, owner.uid, owner.gid);
      chmodSync(dir, 0o700);
      const secretFiles = Object.entries(plan.secretFiles).map(([name, content]) => {
        const file = path.join(dir, name);
        writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
        chownSync(file, owner.uid, owner.gid);
        return file;
      });
      const argv = [
        requireProgram('setpriv (util-linux)', 'setpriv'),
        `--reuid=${owner.uid}`,
        `--regid=${owner.gid}`,
        '--clear-groups',
        '--no-new-privs',
        '--',
        requireProgram('prlimit (util-linux)', 'prlimit'),
        '--nproc=1',
        '--',
        ...plan.argv,
      ];
      // A minimal environment: nothing of the agent's (its own secrets) reaches the client.
      const env = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: dir, TERM: checked.term, ...plan.env };
      child = await runner.spawnPty(argv, { env, cwd: dir, columns: checked.columns, rows: checked.rows, signal });
      let head = '';
      const started = child;
      child.onOutput((chunk) => {
        // The client speaks once it has read its options: the secret has
        // served. Keys typed ahead wait for this too, or the terminal's echo
        // of them would be taken for the client's first words.
        if (typeAhead) {
          for (const f of secretFiles) rmSync(f, { force: true });
          for (const keys of typeAhead) started.write(keys);
          typeAhead = null;
        }
        output(chunk);
        if (plan.failedLogin && !loginFailed && head.length < FAILED_LOGIN_WINDOW) {
          head += chunk.toString('utf8');
          if (plan.failedLogin.test(head)) {
            loginFailed = true;
            void started.stop();
          }
        }
      });
    } catch (err) {
      cleanup();
      throw err;
    }
    const who = checked.root ? 'root' : checked.user;
    log.info({ user: who, childPid: child.pid, database: checked.database || undefined }, 'console session started');
    const exited = child.exited.then((e) => {
      cleanup();
      log.info({ user: who, childPid: child.pid, cancelled: signal.aborted }, `console session ended: the client ${describeExit(e)}`);
      return loginFailed ? 1 : exitCode(e);
    });
    return {
      pid: child.pid,
      write: (input) => (typeAhead ? typeAhead.push(input) : child.write(input)),
      resize: (columns, rows) => child.resize(columns, rows),
      exited,
    };
  }
}
