// What every REST handler gets from the request: the caller (set by the
// auth hook, auth.ts), the base of its links, and page parameters.
import type { FastifyRequest } from 'fastify';
import type { Caller, PageRequest } from '../service/caller.js';
import { badRequest } from './faults.js';
import type { Links } from './views.js';

declare module 'fastify' {
  /** A route's one-line description; /openapi.json shows it (openapi.ts). */
  interface FastifySchema {
    summary?: string;
  }
  interface FastifyRequest {
    /** Set by the auth hook on every /v1.0/{project_id}/ route. */
    caller: Caller | null;
    /** The token is an admin token (may list every project's backups). */
    adminToken: boolean;
  }
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new Error('route registered without the auth hook');
  return req.caller;
}

export function linksOf(req: FastifyRequest): Links {
  const project = (req.params as { project_id: string }).project_id;
  return { base: `${req.protocol}://${req.host}/v1.0/${encodeURIComponent(project)}` };
}

export function pageOf(req: FastifyRequest): PageRequest {
  const q = req.query as { limit?: string; marker?: string };
  const n = q.limit === undefined ? 0 : Number(q.limit);
  if (!Number.isInteger(n) || n < 0) throw badRequest('query parameter limit must be a non-negative integer');
  return { limit: Math.min(n || DEFAULT_PAGE, MAX_PAGE), marker: q.marker ?? '' };
}

/** Trove's list envelope: the items and, when more follow, a "next" link with the marker. */
export function listBody(req: FastifyRequest, key: string, path: string, items: unknown[], limit: number, nextMarker: string): Record<string, unknown> {
  const body: Record<string, unknown> = { [key]: items };
  if (nextMarker) {
    const href = `${linksOf(req).base}/${path}?limit=${limit}&marker=${encodeURIComponent(nextMarker)}`;
    body.links = [{ href, rel: 'next' }];
  }
  return body;
}

/** Pages an in-memory list (databases and users come whole from the agent) by a key. */
export function pageArray<T>(all: T[], key: (x: T) => string, page: PageRequest): { items: T[]; nextMarker: string } {
  const sorted = [...all].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const rest = page.marker ? sorted.filter((x) => key(x) > page.marker) : sorted;
  const items = rest.slice(0, page.limit);
  return { items, nextMarker: rest.length > page.limit ? key(items.at(-1)!) : '' };
}
