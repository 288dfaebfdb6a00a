// The REST bridge: Trove's v1.0 API on fastify, calling the same service
// layer (control/service) as the gRPC API, in-process. Every error becomes a
// Trove fault body (faults.ts); nothing a client sends can produce a 5xx
// other than a real internal failure, which is logged with its cause.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ControlContext } from '../context.js';
import { authenticateRequest } from './auth.js';
import { fault, toFault } from './faults.js';
import { collectRoute, openApiDocument, type CollectedRoute } from './openapi.js';
import './request.js';
import { accountRoutes } from './routes-accounts.js';
import { backupRoutes } from './routes-backups.js';
import { catalogRoutes } from './routes-catalog.js';
import { clusterRoutes } from './routes-clusters.js';
import { dashboardStatic } from './dashboard-static.js';
import { dashboardRoutes } from './routes-dashboard.js';
import { configurationRoutes } from './routes-configurations.js';
import { instanceRoutes } from './routes-instances.js';
import { logRoutes } from './routes-logs.js';

export const API_VERSION = '0.1.0';
/** Large enough for a create with a thousand users; a bigger body is refused. */
export const BODY_LIMIT = 1024 * 1024;

export interface RestServer {
  readonly app: FastifyInstance;
  readonly port: number;
  close(): Promise<void>;
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}...` : s);

/** Told of every answered request (metrics): the route's pattern, never the URL. */
export type RestObserver = (method: string, route: string, code: number, seconds: number) => void;

/** The REST bridge's serving pair (PEM files); null: plaintext (loopback only, control/config.ts). */
export interface RestTls {
  readonly cert: string;
  readonly key: string;
}

export async function buildRestApp(c: ControlContext, observe?: RestObserver, tls: RestTls | null = null): Promise<FastifyInstance> {
  const log = c.log.child({ component: 'rest' });
  // The https server has its own type; routes and hooks are the same.
  const app = Fastify({
    ...(tls ? { https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) } } : {}),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
    // Types as sent: "1" is not an integer and 1 is not a string (Trove's
    // client sends JSON types); query strings are checked as strings.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
    frameworkErrors: (err, _req, reply) => {
      const f = toFault(err, log, 'framework');
      void (reply as unknown as FastifyReply).code(f.status).send(f.body);
    },
  }) as unknown as FastifyInstance;
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (opts) => collectRoute(routes, opts));
  app.decorateRequest('caller', null);
  app.decorateRequest('adminToken', false);

  // troveclient POSTs some actions (root enable) with a JSON content type
  // and no body: an empty body is no body, not a parse error.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(Object.assign(new Error((err as Error).message), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
    }
  });

  if (observe) {
    // An unknown path has no pattern: one label for all of them, so that a
    // scanner cannot make a series per URL.
    app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
      observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
  }
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const route = req.routeOptions.url;
    if (route?.startsWith('/v1.0/:project_id') || route?.startsWith('/ui/api/:project_id')) authenticateRequest(c.db, req);
  });
  app.setErrorHandler((err, req: FastifyRequest, reply: FastifyReply) => {
    const f = toFault(err, log, `${req.method} ${req.routeOptions.url ?? clip(req.url)}`);
    void reply.code(f.status).send(f.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const f = fault(404, `no such resource: ${req.method} ${clip(req.url)}`);
    void reply.code(f.status).send(f.body);
  });

  const versionBody = (req: FastifyRequest) => ({
    id: 'v1.0',
    status: 'CURRENT',
    updated: '2012-08-01T00:00:00Z',
    links: [{ href: `${req.protocol}://${req.host}/v1.0/`, rel: 'self' }],
  });
  app.get('/', { schema: { summary: 'API versions' } }, async (req) => ({ versions: [versionBody(req)] }));
  app.get('/v1.0', { schema: { summary: 'The v1.0 API' } }, async (req) => ({ version: versionBody(req) }));
  app.get('/v1.0/', { schema: { summary: 'The v1.0 API' } }, async (req) => ({ version: versionBody(req) }));

  instanceRoutes(app, c);
  accountRoutes(app, c);
  backupRoutes(app, c);
  catalogRoutes(app, c);
  clusterRoutes(app, c);
  logRoutes(app, c);
  dashboardRoutes(app, c);
  await dashboardStatic(app);
  configurationRoutes(app, c);

  app.get('/openapi.json', { schema: { summary: 'This API as OpenAPI 3' } }, async () => openApiDocument(routes, API_VERSION));
  await app.ready();
  return app;
}

export async function startRestServer(c: ControlContext, host: string, port: number, observe?: RestObserver, tls: RestTls | null = null): Promise<RestServer> {
  const app = await buildRestApp(c, observe, tls);
  await app.listen({ host, port });
  const addr = app.server.address();
  return {
    app,
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => app.close(),
  };
}
