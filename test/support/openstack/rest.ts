// A small HTTP client for the REST bridge (tests that check shapes, status
// codes and faults directly, without the CLI).
import type { Test } from 'tap';

export interface RestResponse {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON as the server sent it
  text: string;
  headers: Headers;
}

export interface RestOptions {
  token?: string;
  /** Sent as is (a string) or as JSON. */
  body?: unknown;
  raw?: boolean;
  contentType?: string;
  headers?: Record<string, string>;
}

export function restClient(port: number) {
  const base = `http://127.0.0.1:${port}`;
  return async function request(method: string, path: string, o: RestOptions = {}): Promise<RestResponse> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token) headers['x-auth-token'] = o.token;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = o.raw ? String(o.body) : JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    const res = await fetch(base + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
}

export type RestRequest = ReturnType<typeof restClient>;

/** Polls GET /instances/{id} until `pred` holds. */
export async function waitInstance(request: RestRequest, project: string, token: string, id: string, pred: (i: Record<string, unknown> | null) => boolean, timeoutMs = 120_000): Promise<Record<string, unknown> | null> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const r = await request('GET', `/v1.0/${project}/instances/${id}`, { token });
    const inst = r.status === 404 ? null : (r.body?.instance as Record<string, unknown>);
    last = inst;
    if (pred(inst)) return inst;
    if (Date.now() > deadline) throw new Error(`timed out waiting for instance ${id}: last ${JSON.stringify(last)}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

export async function waitBackup(request: RestRequest, project: string, token: string, id: string, timeoutMs = 180_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await request('GET', `/v1.0/${project}/backups/${id}`, { token });
    const b = r.body?.backup as Record<string, unknown> | undefined;
    if (b && (b.status === 'COMPLETED' || b.status === 'FAILED')) return b;
    if (Date.now() > deadline) throw new Error(`timed out waiting for backup ${id}: ${r.text}`);
    await new Promise((res) => setTimeout(res, 500));
  }
}

type Row = Record<string, unknown>;

const settled = (i: Row | null): boolean => i?.status === 'ACTIVE' || i?.status === 'ERROR';

/**
 * The two steps most REST tests repeat, each asserting what a user would
 * check: an instance created and ACTIVE; a backup created, COMPLETED, and
 * its instance ACTIVE again.
 */
export function troveSteps(t: Test, request: RestRequest, project: string, token: string) {
  return {
    async create(name: string, instance: Row): Promise<Row> {
      const r = await request('POST', `/v1.0/${project}/instances`, { token, body: { instance: { name, flavorRef: 'small', volume: { size: 1 }, ...instance } } });
      t.equal(r.status, 200, `create ${name}: ${r.text}`);
      const inst = await waitInstance(request, project, token, String(r.body?.instance?.id), settled, 180_000);
      t.equal(inst!.status, 'ACTIVE', `${name} is ACTIVE${inst!.fault ? ` (${JSON.stringify(inst!.fault)})` : ''}`);
      return inst!;
    },
    async backup(name: string, instanceId: string): Promise<Row> {
      const r = await request('POST', `/v1.0/${project}/backups`, { token, body: { backup: { name, instance: instanceId } } });
      t.equal(r.status, 202, `backup create: ${r.text}`);
      const done = await waitBackup(request, project, token, String(r.body?.backup?.id));
      t.equal(done.status, 'COMPLETED', `${name} completes${done.fault ? `: ${JSON.stringify(done.fault)}` : ''}`);
      await waitInstance(request, project, token, instanceId, settled);
      return done;
    },
  };
}
