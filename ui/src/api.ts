// Calls to the control's REST API as the signed-in project. The token lives
// in sessionStorage only (gone when the tab closes) and travels in the
// X-Auth-Token header, never in a URL, so it is in no history, referrer or
// access log.
const TOKEN_KEY = 'coffer.token';
const PROJECT_KEY = 'coffer.project';

/** An answer other than 2xx: the control's own message (a Trove fault body). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Session {
  readonly token: string;
  readonly project: string;
}

export function currentSession(): Session | null {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const project = sessionStorage.getItem(PROJECT_KEY);
  return token && project ? { token, project } : null;
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(PROJECT_KEY);
}

async function send(token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { 'x-auth-token': token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError(0, `the control did not answer (${(err as Error).message}); is coffer-control running?`);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    // {"badRequest": {"code": 400, "message": "..."}}
    const fault = json && typeof json === 'object' ? (Object.values(json)[0] as { message?: string } | undefined) : undefined;
    throw new ApiError(res.status, fault?.message ?? `${method} ${path}: HTTP ${res.status}`);
  }
  return json;
}

/** Checks a token with the control and keeps it for this tab only. */
export async function signIn(token: string): Promise<Session> {
  const t = token.trim();
  if (!t) throw new ApiError(400, 'type an API token (coffer-control token create prints one)');
  let who: { project: string };
  try {
    who = (await send(t, 'GET', '/ui/api/session')) as { project: string };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new ApiError(401, 'This token is not known to this control. Check that you pasted the whole token, or create one with `coffer-control token create --project NAME`.');
    throw err;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  sessionStorage.setItem(PROJECT_KEY, who.project);
  return { token: t, project: who.project };
}

/** A call under /v1.0/{project} (Trove's API) or /ui/api/{project} (the dashboard's own). */
export function api(s: Session, method: string, path: string, body?: unknown, prefix: '/v1.0' | '/ui/api' = '/v1.0'): Promise<any> {
  return send(s.token, method, `${prefix}/${encodeURIComponent(s.project)}${path}`, body);
}
