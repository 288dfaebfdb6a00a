// A grpc-js server with what every Coffer endpoint serves besides its own
// services: server reflection (from the same .proto files the code is
// generated from, so grpcurl and `buf curl` can call any method with JSON)
// and the standard grpc.health.v1 service.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { Health } from './grpc-health.js';
import { addReflectionOnFirstUse } from './grpc-reflection.js';

/** Records the full name of every service added to `server` from now on. */
function recordServices(server: grpc.Server): Set<string> {
  const served = new Set<string>();
  const add = server.addService.bind(server);
  server.addService = (service, implementation) => {
    for (const m of Object.values(service)) served.add(m.path.split('/')[1]!);
    add(service, implementation);
  };
  return served;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * TLS that only the server presents (ca: null, said explicitly so that mutual
 * TLS is never lost by omission): clients verify the server and authenticate
 * by other means (the control's public API: a bearer token).
 */
export interface ServingTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: null;
}

/** Mutual TLS: a client must present a certificate signed by `ca`; with ca null, server-side TLS only. */
export function serverCredentials(tls: TlsFiles | ServingTlsFiles | null): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const pair = [{ cert_chain: readFileSync(tls.cert), private_key: readFileSync(tls.key) }];
  if (tls.ca === null) return grpc.ServerCredentials.createSsl(null, pair, false);
  return grpc.ServerCredentials.createSsl(readFileSync(tls.ca), pair, true);
}

export interface CofferServer {
  readonly server: grpc.Server;
  readonly health: Health;
  readonly port: number;
  /** Graceful shutdown, forced after graceMs. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Builds a server with health, lets `register` add the services, adds
 * reflection over what it serves, and binds.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  tls: TlsFiles | ServingTlsFiles | null;
  register: (server: grpc.Server) => void;
  /** Run around every call (the control's metrics count its API calls). */
  interceptors?: grpc.ServerInterceptor[];
}): Promise<CofferServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, interceptors: opts.interceptors ?? [] });
  const served = recordServices(server);
  const health = new Health({ '': 'NOT_SERVING' });
  health.addToServer(server);
  opts.register(server);
  // Reflection lists what this server serves, not every service in the
  // schema: a client must not be offered a service that answers UNIMPLEMENTED.
  addReflectionOnFirstUse(server, served);
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port}`, serverCredentials(opts.tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  health.setStatus('', 'SERVING');
  return {
    server,
    health,
    port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
