// The REST client: every call of the console goes through `api()`, which adds the bearer
// token, turns error envelopes into ApiError (code + message + details), asks for a token
// on 401 and reports a daemon that cannot be reached.

const TOKEN_KEY = 'vm-system-token';
const BASE = '/api/v1';

/** An error answered by the API (or the daemon being unreachable: code DAEMON_UNREACHABLE). */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const hooks = {
  /** Called with no argument when a request fails to reach the daemon. */
  down: () => {},
  /** Returns a Promise of the token the user typed (with the previous failure, if any). */
  askToken: async () => null,
};

/** Installs the UI callbacks (the banner and the token dialog live in main.js). */
export function setHooks(next) {
  Object.assign(hooks, next);
}

/** The token kept for this tab, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

let pendingToken = null;

/**
 * Asks the user for a token once, however many requests got 401 at the same time, and keeps
 * it for the tab (sessionStorage).
 */
export function requestToken(rejected) {
  if (!pendingToken) {
    pendingToken = Promise.resolve(hooks.askToken(rejected)).then((value) => {
      pendingToken = null;
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      return value;
    });
  }
  return pendingToken;
}

/** Tells the page the daemon could not be reached (the banner and its health checks). */
export function reportDown() {
  hooks.down();
}

/** Headers every request carries. */
export function authHeaders(extra) {
  const headers = { ...(extra || {}) };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  return headers;
}

/** Reads an error response into an ApiError, whatever its body. */
export async function toApiError(res) {
  let body = null;
  const text = await res.text().catch(() => '');
  try { body = JSON.parse(text); } catch { /* not JSON: shown as text below */ }
  const err = body && body.error;
  if (err && typeof err.code === 'string') {
    return new ApiError(res.status, err.code, err.message || '', err.details);
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.trim() || res.statusText || 'request failed');
}

/** The error for a daemon that cannot be reached. */
export function unreachable() {
  return new ApiError(0, 'DAEMON_UNREACHABLE',
    `The vm-system daemon at ${location.origin} cannot be reached (start it with: vm-system serve).`);
}

/**
 * Calls `METHOD /api/v1<path>` with an optional JSON body; resolves to the parsed JSON answer
 * or throws ApiError. A 401 asks for the token and retries with it.
 */
export async function api(method, path, body, { signal } = {}) {
  for (;;) {
    const init = { method, headers: authHeaders({ Accept: 'application/json' }), signal };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(BASE + path, init);
    } catch (e) {
      if (signal?.aborted) throw e;
      hooks.down();
      throw unreachable();
    }
    if (res.status === 401) {
      const err = await toApiError(res);
      // A stored token that got 401 was wrong: say so when asking again.
      if (!(await requestToken(token() ? err : null))) throw err;
      continue;
    }
    if (!res.ok) throw await toApiError(res);
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

/** Checks the daemon answers `GET /health` (no token needed for the check to count). */
export async function healthy() {
  try {
    const res = await fetch(`${BASE}/health`, { headers: authHeaders(), cache: 'no-store' });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}
