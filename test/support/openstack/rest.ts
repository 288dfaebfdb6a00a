// A small HTTP client for the REST bridge (tests that check shapes, status
// codes and faults directly, without the CLI).
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
