// The first message of a console session, checked before anything starts:
// a terminal size, one account (a named user, or root), a password the
// clients can be handed, a plain terminal type.
import { checkPtySize } from '../../lib/pty-process.js';
import type { ConsoleLogin } from '../../proto/gen/coffer/agent/v1/console.js';
import { invalid } from '../errors.js';
import type { ConsoleLoginInput } from '../managers/manager.js';

export const MAX_CONSOLE_PASSWORD = 1024;
const TERM = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
// A database name reaches the client as one argv element; the managers check the datastore's own rules.
const DATABASE = /^[^\x00-\x1f\x7f]{1,64}$/;

export interface CheckedLogin extends ConsoleLoginInput {
  readonly columns: number;
  readonly rows: number;
  readonly term: string;
}

export function checkLogin(login: ConsoleLogin, names: { adminUser: string; rootUser: string }): CheckedLogin {
  const size = login.size;
  if (!size) throw invalid('login.size is missing: give the terminal\'s columns and rows');
  const sizeError = checkPtySize(size.columns, size.rows);
  if (sizeError) throw invalid(`login.size: ${sizeError}`);
  const user = login.user.trim();
  // The agent's own account, whatever the case the caller wrote it in: never.
  if (user.toLowerCase() === names.adminUser.toLowerCase()) {
    throw invalid(`user ${JSON.stringify(user)} is the agent's own account; the console never logs in as it`);
  }
  let root = login.root;
  if (user && root) throw invalid('give either a user or root, not both');
  // Naming the root account is asking for root.
  if (user.toLowerCase() === names.rootUser.toLowerCase()) root = true;
  if (!user && !root) throw invalid('no account: give a user, or root');
  if (!login.password) throw invalid('the password is empty');
  if (login.password.length > MAX_CONSOLE_PASSWORD) throw invalid(`the password is longer than ${MAX_CONSOLE_PASSWORD} characters`);
  // What the clients read from an option file or a variable: one line of printable text.
  if (!/^[\x20-\x7e]+$/.test(login.password)) throw invalid('the password may hold only printable ASCII characters (as the accounts API allows)');
  if (login.database && !DATABASE.test(login.database)) throw invalid(`database ${JSON.stringify(login.database.slice(0, 80))} is not a name (1-64 characters, no control characters)`);
  const term = login.term || 'xterm-256color';
  if (!TERM.test(term)) throw invalid(`terminal type ${JSON.stringify(term.slice(0, 80))} is not a terminal name (letters, digits, ".", "_", "+", "-")`);
  return { user: root ? '' : user, password: login.password, root, database: login.database, columns: size.columns, rows: size.rows, term };
}
