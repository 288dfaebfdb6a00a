// Secrets reach the CLI through files (mode 0600), stdin or a prompt, never
// argv: a command line is visible to every user of the host (ps, /proc) and
// lands in shell history.
import { readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { usage } from './errors.js';

/** Warns (once per file) when a secret file can be read by other users. */
function warnIfShared(file: string, warn: (line: string) => void): void {
  try {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) warn(`warning: ${file} is readable by other users (mode 0${mode.toString(8)}); chmod 600 it`);
  } catch {
    // reported by the read that follows
  }
}

/** The first line of a secret file, without its line ending. */
export function readSecretFile(file: string, what: string, warn: (line: string) => void): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : ((err as Error).message ?? String(err));
    throw usage(`cannot read ${what} ${file}: ${why}`);
  }
  warnIfShared(file, warn);
  return firstLine(text, `${what} ${file}`);
}

function firstLine(text: string, where: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  if (!line) throw usage(`${where} is empty: it must hold the secret on its first line`);
  return line;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const chunk of stream) s += chunk.toString();
  return s;
}

/** Asks on the terminal without echo. */
function promptHidden(question: string): Promise<string> {
  const muted = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  process.stderr.write(question);
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

export interface PasswordSource {
  /** --password-file: a path, or "-" for stdin. */
  readonly file?: string;
  /** What the password is for, in prompts and errors, e.g. "user app". */
  readonly what: string;
  readonly warn: (line: string) => void;
}

/**
 * A password from --password-file FILE, from stdin (--password-file -, or
 * stdin that is not a terminal), or from a prompt on a terminal (asked twice).
 */
export async function readPassword(src: PasswordSource): Promise<string> {
  if (src.file && src.file !== '-') return readSecretFile(src.file, '--password-file', src.warn);
  if (src.file === '-' || !process.stdin.isTTY) {
    return firstLine(await readAll(process.stdin), `the password for ${src.what} on stdin`);
  }
  const first = await promptHidden(`password for ${src.what}: `);
  if (!first) throw usage(`no password given for ${src.what}`);
  const again = await promptHidden('again: ');
  if (again !== first) throw usage('the two passwords differ');
  return first;
}

/**
 * A password to log in with (asked once, not twice as a new one is): from
 * --password-file FILE, or a prompt without echo on the terminal. Never
 * stdin: a command that needs stdin for itself (the console) cannot read a
 * password there too.
 */
export async function readLoginPassword(src: PasswordSource): Promise<string> {
  if (src.file === '-') throw usage(`--password-file - is refused here: stdin is the console's keyboard; give a FILE (mode 0600), or answer the prompt`);
  if (src.file) return readSecretFile(src.file, '--password-file', src.warn);
  if (!process.stdin.isTTY) throw usage(`no password for ${src.what}: give --password-file FILE (mode 0600), or run on a terminal to be asked`);
  const answer = await promptHidden(`password for ${src.what}: `);
  if (!answer) throw usage(`no password given for ${src.what}`);
  return answer;
}
