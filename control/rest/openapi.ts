// /openapi.json, built from the registered routes' own schemas (an onRoute
// hook collects them), so the document cannot drift from what is validated.
import type { RouteOptions } from 'fastify';
import { FAULT_SCHEMA } from './schemas.js';

interface RouteSchema {
  summary?: string;
  params?: { properties?: Record<string, object>; required?: readonly string[] };
  querystring?: { properties?: Record<string, object> };
  body?: object;
}

export interface CollectedRoute {
  method: string;
  url: string;
  schema: RouteSchema;
}

export function collectRoute(routes: CollectedRoute[], opts: RouteOptions): void {
  const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
  for (const m of methods) {
    if (m === 'HEAD' || opts.url.includes('*')) continue;
    routes.push({ method: m.toLowerCase(), url: opts.url, schema: (opts.schema ?? {}) as RouteSchema });
  }
}

/** "(202)" at the end of a summary names the success status; 200 otherwise. */
const successOf = (summary = ''): string => /\((\d{3})\)\s*$/.exec(summary)?.[1] ?? '200';

export function openApiDocument(routes: readonly CollectedRoute[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const parameters = [
      ...Object.entries(r.schema.params?.properties ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
      ...Object.entries(r.schema.querystring?.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
    ];
    const authed = path.startsWith('/v1.0/{project_id}');
    const op: Record<string, unknown> = {
      summary: r.schema.summary ?? `${r.method.toUpperCase()} ${path}`,
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
      ...(parameters.length ? { parameters } : {}),
      ...(r.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
      ...(authed ? { security: [{ token: [] }] } : {}),
      responses: {
        [successOf(r.schema.summary)]: { description: 'success' },
        default: { description: 'a Trove fault', content: { 'application/json': { schema: { $ref: '#/components/schemas/Fault' } } } },
      },
    };
    (paths[path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Coffer REST bridge (OpenStack Trove v1.0 API)', version },
    paths,
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } },
      schemas: { Fault: FAULT_SCHEMA },
    },
  };
}
