// The global options (--endpoint, --ca-file, --plaintext, --token-file,
// --json, --timeout) and their
// environment fallbacks, compiled once into a frozen object that commands
// receive. Nothing reads process.env or the token file after this.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { readSecretFile } from './secret-files.js';
import { usage } from './errors.js';
import { progressMode, type ProgressMode } from './progress.js';

export const DEFAULT_ENDPOINT = '127.0.0.1:8780';

/** As commander parses them. */
export interface GlobalOptions {
  endpoint?: string;
  caFile?: string;
  plaintext?: boolean;
  tokenFile?: string;
  json?: boolean;
  timeout?: string;
  /** Hidden options that exist only to refuse a secret on argv with a useful message. */
  token?: string;
}

export interface CliSettings {
  /** HOST:PORT of coffer-control's gRPC API. */
  readonly endpoint: string;
  /**
   * How the connection is secured: TLS verified with the CA certificates
   * given (PEM; null: the system's trusted CAs), or plaintext (loopback only).
   */
  readonly tls: { readonly kind: 'tls'; readonly ca: Buffer | null } | { readonly kind: 'plaintext' };
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

/** A loopback endpoint: the only kind a token may be sent to in clear (as coffer-control's --plaintext-loopback). */
function loopbackEndpoint(endpoint: string): boolean {
  const host = endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

const CA_HINT = 'coffer-control writes its API CA to DATA-DIR/api-ca.crt and prints the path at start';

function tlsOf(o: GlobalOptions, env: NodeJS.ProcessEnv, endpoint: string): CliSettings['tls'] {
  const caFile = o.caFile ?? (env.COFFER_CA_FILE || undefined);
  const caFrom = o.caFile !== undefined ? '--ca-file' : 'COFFER_CA_FILE';
  const envPlain = env.COFFER_PLAINTEXT;
  if (envPlain !== undefined && envPlain !== '' && envPlain !== '0' && envPlain !== '1') throw usage(`COFFER_PLAINTEXT must be 1 or 0, got "${envPlain}"`);
  const plaintext = o.plaintext === true || envPlain === '1';
  if (plaintext) {
    if (caFile !== undefined) throw usage(`${o.plaintext ? '--plaintext' : 'COFFER_PLAINTEXT=1'} and ${caFrom} contradict each other: plaintext uses no CA; choose one`);
    if (!loopbackEndpoint(endpoint)) {
      throw usage(`plaintext to ${endpoint} is refused: the token would cross the network in clear; drop --plaintext (COFFER_PLAINTEXT) and verify the control's TLS with --ca-file FILE (${CA_HINT})`);
    }
    return Object.freeze({ kind: 'plaintext' });
  }
  if (caFile === undefined) return Object.freeze({ kind: 'tls', ca: null });
  let pem: Buffer;
  try {
    pem = readFileSync(caFile);
  } catch (err) {
    throw usage(`${caFrom} ${caFile} cannot be read: ${(err as Error).message} (${CA_HINT})`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw usage(`${caFrom} ${caFile} is not a PEM certificate (${CA_HINT})`);
  }
  return Object.freeze({ kind: 'tls', ca: pem });
}

export const NO_TOKEN =
  'no token: set COFFER_TOKEN or pass --token-file FILE (create one with `coffer-control token create --data-dir DIR --project NAME`; `make up` saves one in /var/lib/coffer/token)';

export function compileSettings(o: GlobalOptions, env: NodeJS.ProcessEnv, stderrIsTty: boolean, warn: (line: string) => void): CliSettings {
  if (o.token !== undefined) {
    throw usage('--token is refused: a token on the command line is visible to every user of this host (ps, shell history); set COFFER_TOKEN or use --token-file FILE (mode 0600)');
  }
  const endpoint = o.endpoint !== undefined ? parseEndpoint(o.endpoint, '--endpoint') : env.COFFER_ENDPOINT ? parseEndpoint(env.COFFER_ENDPOINT, 'COFFER_ENDPOINT') : DEFAULT_ENDPOINT;
  const tls = tlsOf(o, env, endpoint);
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
  return Object.freeze({ endpoint, tls, token, json, timeoutMs, progress: progressMode(json, env, stderrIsTty) });
}
