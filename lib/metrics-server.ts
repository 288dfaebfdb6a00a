// The /metrics endpoint of the agent and of the control: Prometheus' text
// format from a prom-client registry, on a port of its own.
//
// node:http, not fastify: one route, GET only, no body, no schema. The agent
// does not load fastify at all (its idle memory is budgeted), and on the
// control a second fastify app would be one more thing to configure (error
// handler, hooks, close order) for a handler of three lines; the same file
// serves both sides. Only the registry's type is imported here, so loading
// this file does not load prom-client.
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  /** Where a scraper reads the metrics, for the listening log line. */
  readonly url: string;
  close(): Promise<void>;
}

export class MetricsListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsListenError';
  }
}

/**
 * Serves `registry` at GET /metrics on host:port (port 0: any free one).
 * `what` names the setting in a bind error ("--metrics", "metricsListen").
 */
export async function startMetricsServer(opts: { host: string; port: number; registry: Registry; what: string; onError?: (err: unknown) => void }): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    opts.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        opts.onError?.(err);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('the metrics could not be collected; see the log\n');
      },
    );
  });
  // A scraper keeps its connection open between scrapes; close() must not wait for it.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.code === 'EADDRNOTAVAIL' ? 'no such address on this host' : err.message;
      reject(new MetricsListenError(`${opts.what} ${hostPort(opts.host, opts.port)}: cannot serve /metrics there: ${why}`));
    };
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    host: opts.host,
    port,
    url: `http://${hostPort(opts.host, port)}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
