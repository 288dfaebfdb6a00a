// Runs the real, built coffer CLI (bin/coffer -> dist/cli) as a child
// process, as a user's shell would: no test-runner loaders in its env.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { agentEnv, REPO, withoutTapLoaders } from '../support/agent.js';

export const COFFER_BIN = path.join(REPO, 'bin', 'coffer');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /**
   * Extra environment (COFFER_TOKEN, COFFER_ENDPOINT, ...). Without
   * COFFER_CA_FILE or COFFER_PLAINTEXT the CLI speaks plaintext, as the
   * control harness serves (--plaintext-loopback) unless a test asks for TLS.
   */
  env?: Record<string, string>;
  /** Written to stdin, which is then closed (stdin is /dev/null otherwise). */
  input?: string;
  timeoutMs?: number;
}

export function coffer(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...agentEnv(), ...(opts.env ?? {}) };
    // Only what the test gives: no token or endpoint from the caller's shell.
    for (const k of ['COFFER_TOKEN', 'COFFER_TOKEN_FILE', 'COFFER_ENDPOINT', 'COFFER_PROGRESS', 'COFFER_DEBUG', 'COFFER_CA_FILE', 'COFFER_PLAINTEXT']) if (!opts.env?.[k]) delete env[k];
    if (opts.env?.COFFER_CA_FILE === undefined && opts.env?.COFFER_PLAINTEXT === undefined) env.COFFER_PLAINTEXT = '1';
    const child = spawn(...withoutTapLoaders([process.execPath, COFFER_BIN, ...args]), { env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** A CLI bound to one control and token. */
export function cliFor(endpoint: string, token: string) {
  return (args: readonly string[], opts: CliOptions = {}) => coffer(args, { ...opts, env: { COFFER_ENDPOINT: endpoint, COFFER_TOKEN: token, ...(opts.env ?? {}) } });
}

/** Parses stdout of a --json command. */
export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** A 0600 file holding a secret, as a user would write one. */
export function secretFile(dir: string, name: string, secret: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, `${secret}\n`, { mode: 0o600 });
  return f;
}

/** A stack trace line, which a user must never see. */
export const STACK = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;
