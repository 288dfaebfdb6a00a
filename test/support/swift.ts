// Test helper: a real OpenStack Swift all-in-one (Swift API with tempauth,
// S3 API through s3api) on 127.0.0.1, started by test/support/swift-saio/.
// startSwift() takes a lease on the SAIO (starting it if it is not running)
// and gives the lease back in the test's teardown; the servers stop when the
// last lease is returned, so test files running in parallel share one SAIO
// and a SAIO started by hand (./start.sh) is never stopped by a test.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort } from '../../lib/free-port.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';

const SAIO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'swift-saio');

/** Anything with tap's teardown (a tap Test). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface SwiftSaio {
  readonly proxyUrl: string;
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly storageUrl: string;
  readonly s3Endpoint: string;
  readonly s3Region: string;
  readonly s3AccessKey: string;
  readonly s3SecretKey: string;
  readonly stateDir: string;
  readonly proxyConf: string;
  readonly pythonPath: string;
}

const runner = (): ProcessRunner =>
  new ProcessRunner(createLogger({ name: 'swift-saio', level: 'warn', destination: process.stderr }));

/** Starts (or joins) the SAIO for this test process; releases it in teardown. */
export async function startSwift(t: Teardown): Promise<SwiftSaio> {
  const run = runner();
  const holder = String(process.pid);
  const { stdout } = await run.run(['bash', path.join(SAIO_DIR, 'start.sh'), '--holder', holder], { timeoutMs: 180_000 });
  t.teardown(() => run.run(['bash', path.join(SAIO_DIR, 'stop.sh'), '--holder', holder], { timeoutMs: 60_000 }));
  const env = Object.fromEntries(
    stdout
      .split('\n')
      .map((line) => /^(SAIO_[A-Z0-9_]+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const get = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`swift-saio/start.sh did not print ${name}`);
    return value;
  };
  return {
    proxyUrl: get('SAIO_PROXY_URL'),
    authUrl: get('SAIO_AUTH_URL'),
    user: get('SAIO_USER'),
    key: get('SAIO_KEY'),
    storageUrl: get('SAIO_STORAGE_URL'),
    s3Endpoint: get('SAIO_S3_ENDPOINT'),
    s3Region: get('SAIO_S3_REGION'),
    s3AccessKey: get('SAIO_S3_ACCESS_KEY'),
    s3SecretKey: get('SAIO_S3_SECRET_KEY'),
    stateDir: get('SAIO_STATE_DIR'),
    proxyConf: get('SAIO_PROXY_CONF'),
    pythonPath: get('SAIO_PYTHONPATH'),
  };
}

export interface ExtraProxy {
  /** e.g. http://127.0.0.1:40123 */
  readonly url: string;
  readonly authUrl: string;
  /** Stops the proxy: afterwards its port refuses connections. */
  stop(): Promise<void>;
}

/**
 * A second, real Swift proxy server in front of the same account, container
 * and object servers (and memcached, so tokens are shared). Tests stop it
 * mid-upload to see what a client does when its storage endpoint goes away,
 * without disturbing other tests using the main proxy.
 */
export async function startExtraProxy(t: Teardown, saio: SwiftSaio): Promise<ExtraProxy> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'coffer-extra-proxy-'));
  const conf = path.join(dir, 'proxy-server.conf');
  const base = await readFile(saio.proxyConf, 'utf8');
  await writeFile(conf, base.replace(/^bind_port = \d+$/m, `bind_port = ${port}`));
  const child = runner().spawn(['swift-proxy-server', conf, '-v'], {
    env: { PYTHONPATH: saio.pythonPath, PYTHONDONTWRITEBYTECODE: '1' },
    logOutput: false,
  });
  const stop = async (): Promise<void> => {
    await child.stop(5000);
  };
  t.teardown(async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!child.running) throw new Error(`extra swift proxy exited: ${child.outputTail()}`);
    const ok = await fetch(`${url}/healthcheck`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`extra swift proxy did not answer on ${url}: ${child.outputTail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, authUrl: `${url}/auth/v1.0`, stop };
}

export { freePort };

/** A plain Swift API client for assertions: what is really in the store. */
export class SwiftProbe {
  private session: Promise<{ url: string; token: string }> | null = null;

  constructor(private readonly saio: SwiftSaio) {}

  get token(): Promise<string> {
    return this.login().then((s) => s.token);
  }

  /** Object names in `container` starting with `prefix` ([] if the container does not exist). */
  async list(container: string, prefix = ''): Promise<string[]> {
    const res = await this.request('GET', `/${encodeURIComponent(container)}?format=json&prefix=${encodeURIComponent(prefix)}`);
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`listing ${container} failed: ${res.status}`);
    return ((await res.json()) as { name: string }[]).map((o) => o.name);
  }

  /** HEAD of "container/object" (the manifest itself for an SLO), or null if missing. */
  async head(location: string): Promise<Headers | null> {
    const res = await this.request('HEAD', `/${location.split('/').map(encodeURIComponent).join('/')}`);
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`HEAD ${location} failed: ${res.status}`);
    return res.headers;
  }

  async delete(location: string): Promise<void> {
    const res = await this.request('DELETE', `/${location.split('/').map(encodeURIComponent).join('/')}`);
    await res.arrayBuffer();
  }

  private async request(method: string, pathAndQuery: string): Promise<Response> {
    const { url, token } = await this.login();
    return fetch(url + pathAndQuery, { method, headers: { 'X-Auth-Token': token } });
  }

  private login(): Promise<{ url: string; token: string }> {
    this.session ??= fetch(this.saio.authUrl, { headers: { 'X-Auth-User': this.saio.user, 'X-Auth-Key': this.saio.key } }).then(
      async (res) => {
        await res.arrayBuffer();
        const url = res.headers.get('x-storage-url');
        const token = res.headers.get('x-auth-token');
        if (!res.ok || !url || !token) throw new Error(`tempauth login failed: ${res.status}`);
        return { url, token };
      },
    );
    return this.session;
  }
}
