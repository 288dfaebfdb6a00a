// A VM's serial console log, as an operator reads it when a boot fails:
// its last lines, without the terminal escapes systemd and the kernel put
// there, and whether it already says the agent will not come up.
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';

const TAIL_BYTES = 64 * 1024;

function readEnd(file: string, bytes: number): string {
  if (!existsSync(file)) return '';
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Text a person can read: escape sequences, carriage returns and other control characters dropped. */
export function plainText(s: string): string {
  return (
    s
      // CSI sequences (colours, cursor moves) and OSC sequences.
      .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '')
      .replace(/\x1b[@-Z\\-_]/g, '')
      .replace(/\r\n?/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
  );
}

/** The last `lines` non-empty lines of the console log ('' when there is none yet). */
export function consoleTail(file: string, lines = 25): string {
  const text = plainText(readEnd(file, TAIL_BYTES));
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
}

// What the console says when the agent will not come up, whatever the
// wait: the agent's own refusal of its configuration (it writes
// "coffer-agent: <why>" to stderr and exits 2, which its unit does not
// restart, systemd/coffer-agent.service), and systemd's word on a unit that
// failed for good ("[FAILED] Failed to start ...", "Start request repeated
// too quickly"), e.g. the first-boot unit that installs the config drive.
const GIVEN_UP = [/(^|\s)coffer-agent: /, /Failed to start .*coffer/i, /coffer[-\w]*\.service: Start request repeated too quickly/i];

/** The console line saying the agent will not start, or null while it may still. */
export function agentGaveUp(file: string): string | null {
  const text = plainText(readEnd(file, TAIL_BYTES));
  for (const line of text.split('\n')) {
    if (GIVEN_UP.some((re) => re.test(line))) return line.trim();
  }
  return null;
}
