// The dashboard's files (docs/dashboard.md) at /ui/: the page and its
// modules, compiled from ui/ by scripts/build.mjs into dist/ui. Static files
// only; every piece of data the page shows comes from the API with the
// token the person typed, so the files themselves need no token.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** dist/control/rest/ → dist/ui/ (scripts/build.mjs writes it). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/**
 * The page loads only its own files and talks only to its own origin, so a
 * script injected through a name shown on the page could neither load code
 * nor send the token elsewhere; no referrer leaves with a link.
 */
const HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

export async function dashboardStatic(app: FastifyInstance, dir = DASHBOARD_DIR): Promise<void> {
  app.get('/ui', { schema: { summary: 'The dashboard (redirects to /ui/)' } }, async (_req, reply) => reply.redirect('/ui/', 301));
  if (!existsSync(dir)) {
    // A control run from a tree built without the dashboard still serves the API.
    app.get('/ui/', { schema: { summary: 'The dashboard' } }, async (_req, reply) =>
      reply.code(404).type('text/plain').send(`the dashboard is not built: run make build (no ${dir})`),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/ui/',
    index: ['index.html'],
    // Source maps and TypeScript leftovers are not served.
    allowedPath: (pathName) => !pathName.endsWith('.map') && !pathName.endsWith('.tsbuildinfo'),
    setHeaders: (reply) => {
      reply.headers(HEADERS);
    },
  });
}
