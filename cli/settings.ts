// The global options (--endpoint, --token-file, --json, --timeout) and their
// environment fallbacks, compiled once into a frozen object that commands
// receive. Nothing reads process.env or the token file after this.
import { readSecretFile } from './secret-files.js';
import { usage } from './errors.js';
import { progressMode, type ProgressMode } from './progress.js';

export const DEFAULT_ENDPOINT = '127.0.0.1:8780';

/** As commander parses them. */
export interface GlobalOptions {
  endpoint?: string;
  tokenFile?: string;
  json?: boolean;
  timeout?: string;
  /** Hidden options that exist only to refuse a secret on argv with a useful message. */
  token?: string;
}

export interface CliSettings {
  /** HOST:PORT of coffer-control's gRPC API. */
  readonly endpoint: string;
  readonly token: string;
  /** Machine-readable output on stdout; no progress display. */
  readonly json: boolean;
  /** Deadline of each unary call. */
  readonly timeoutMs: number;
  /** How long operations show their progress on stderr. */
  readonly progress: ProgressMode;
}

const ENDPOINT_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function parseEndpoint(value: string, from: string): string {
  const m = ENDPOINT_RE.exec(value.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw usage(`${from} must be HOST:PORT of coffer-control's gRPC API (e.g. ${DEFAULT_ENDPOINT}), got "${value}"`);
  }
  return value.trim();
}

export const NO_TOKEN =
  'no token: set COFFER_TOKEN or pass --token-file FILE (create one with `coffer-control token create --data-dir DIR --project NAME`; `make up` saves one in /var/lib/coffer/token)';

export function compileSettings(o: GlobalOptions, env: NodeJS.ProcessEnv, stderrIsTty: boolean, warn: (line: string) => void): CliSettings {
  if (o.token !== undefined) {
    throw usage('--token is refused: a token on the command line is visible to every user of this host (ps, shell history); set COFFER_TOKEN or use --token-file FILE (mode 0600)');
  }
  const endpoint = o.endpoint !== undefined ? parseEndpoint(o.endpoint, '--endpoint') : env.COFFER_ENDPOINT ? parseEndpoint(env.COFFER_ENDPOINT, 'COFFER_ENDPOINT') : DEFAULT_ENDPOINT;
  const tokenFile = o.tokenFile ?? env.COFFER_TOKEN_FILE;
  let token = '';
  if (tokenFile) token = readSecretFile(tokenFile, o.tokenFile ? '--token-file' : 'COFFER_TOKEN_FILE', warn).trim();
  else token = (env.COFFER_TOKEN ?? '').trim();
  if (!token) throw usage(NO_TOKEN);
  if (/\s/.test(token)) throw usage('the token holds whitespace: it must be the single word `coffer-control token create` printed');
  let timeoutMs = 60_000;
  if (o.timeout !== undefined) {
    const s = Number(o.timeout);
    if (!Number.isFinite(s) || s <= 0) throw usage(`--timeout must be a positive number of seconds, got "${o.timeout}"`);
    timeoutMs = Math.round(s * 1000);
  }
  const json = o.json === true;
  return Object.freeze({ endpoint, token, json, timeoutMs, progress: progressMode(json, env, stderrIsTty) });
}
