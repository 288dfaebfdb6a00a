// Runs the real OpenStack CLI (python3-openstackclient + python3-troveclient,
// test/support/openstack/packages.txt) against a Coffer REST bridge, the
// way a user would: admin_token auth, the endpoint of the project, and the
// token in the environment (OS_TOKEN), never on the command line.
import { execFile } from 'node:child_process';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface OpenStackCli {
  /** `openstack <args...>`; never rejects (look at code). */
  run(...args: string[]): Promise<CliResult>;
  /** `openstack <args...> -f json`, parsed; rejects with stderr when it fails. */
  json<T = Record<string, unknown>>(...args: string[]): Promise<T>;
  /** `openstack <args...>`, rejecting with stderr when it fails. */
  ok(...args: string[]): Promise<string>;
}

/**
 * https: the REST bridge serves TLS (a control started with `tls`); the CA
 * to verify it is then given per command (--os-cacert), or as OS_CACERT
 * with caFile. Otherwise plain HTTP (the harness's --plaintext-loopback).
 */
export function openstack(restPort: number, project: string, token: string, o: { https?: boolean; caFile?: string } = {}): OpenStackCli {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    OS_AUTH_TYPE: 'admin_token',
    OS_ENDPOINT: `${o.https ? 'https' : 'http'}://127.0.0.1:${restPort}/v1.0/${project}`,
    OS_TOKEN: token,
    ...(o.caFile ? { OS_CACERT: o.caFile } : {}),
  };
  const run = (...args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile('openstack', args, { env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await run(...args);
    if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  };
  return {
    run,
    ok,
    json: async <T>(...args: string[]): Promise<T> => JSON.parse(await ok(...args, '-f', 'json')) as T,
  };
}
