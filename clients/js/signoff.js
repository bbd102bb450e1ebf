// Signoff client for browsers and Node 20+: login() and logout() (seed 003).
// An ES module with no dependencies. Types are in signoff.d.ts; usage in README.md.

/** The storage key under which the access token is saved. */
export const TOKEN_KEY = "signoff.token";

/** A Storage-like object kept in memory: the default outside a browser. */
export class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
  clear() {
    this.#items.clear();
  }
}

/** `localStorage` in a browser, a fresh MemoryStorage elsewhere (or where it is blocked). */
function defaultStorage() {
  try {
    if (typeof window !== "undefined" && window.localStorage) return window.localStorage;
  } catch {
    // Reading localStorage throws a SecurityError where the page may not use it.
  }
  return new MemoryStorage();
}

/** Storage is only a place to keep the token across page loads: its failures must not fail a call. */
function quietly(action) {
  try {
    action();
  } catch {
    // The token in memory stays authoritative for this client.
  }
}

export class SignoffClient {
  #baseUrl;
  #storage;
  #fetch;
  #timeoutMs;
  #token;

  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] the server's origin; "" (the default) means the page's own origin.
   * @param {Pick<Storage, "getItem" | "setItem" | "removeItem">} [options.storage] where the token is saved; see defaultStorage().
   * @param {typeof fetch} [options.fetch] a fetch implementation (default: the global one).
   * @param {number} [options.timeoutMs] how long a request may take, 10 s by default.
   */
  constructor({ baseUrl = "", storage = defaultStorage(), fetch = globalThis.fetch, timeoutMs = 10_000 } = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#storage = storage;
    this.#fetch = fetch;
    this.#timeoutMs = timeoutMs;
    let saved = null;
    quietly(() => (saved = storage.getItem(TOKEN_KEY)));
    this.#token = saved || null;
  }

  /** The current access token, or null when logged out. */
  get token() {
    return this.#token;
  }

  /**
   * Logs in with `POST /api/v1/account/login` and saves the token. Never rejects: on failure
   * `error` is filled in and any previously saved token is left as it was.
   */
  async login(email, password) {
    const { status, statusText, body, error } = await this.#request("/api/v1/account/login", { email, password });
    if (error) return { user: null, token: null, status, statusText, error };
    const { token, user } = body?.data ?? {};
    if (typeof token !== "string" || !token) {
      const message = "The server sent no token.";
      return { user: null, token: null, status, statusText, error: { message, code: "BAD_RESPONSE", status } };
    }
    this.#token = token;
    quietly(() => this.#storage.setItem(TOKEN_KEY, token));
    return { user: user ?? null, token, status, statusText, error: null };
  }

  /**
   * Logs out with `POST /auth/logout`, revoking the token on the server. Never rejects, and
   * always forgets the token locally, whatever the server answers (or if it cannot be reached);
   * `error` says when the server did not confirm the logout.
   */
  async logout() {
    const token = this.#token;
    // Forget the token first: even if the request hangs or the page goes away, it is gone here.
    this.#token = null;
    quietly(() => this.#storage.removeItem(TOKEN_KEY));
    if (!token) {
      const message = "No token to log out: already logged out.";
      return { user: null, token: null, status: 0, statusText: message, reason: null, error: { message, code: "NO_TOKEN", status: 0 } };
    }
    const { status, statusText, error, reason } = await this.#request("/auth/logout", undefined, token);
    if (error && reason) error.reason = reason;
    return { user: null, token: null, status, statusText, reason: status === 200 ? "logout" : reason, error };
  }

  /** POSTs to the API. Resolves to { status, statusText, body, error }; never rejects. */
  async #request(path, json, token) {
    const headers = { Accept: "application/json" };
    if (json !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await this.#fetch.call(globalThis, this.#baseUrl + path, {
        method: "POST",
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        // Token-only: never send the browser's session cookie, so logout() ends this token's
        // sign-in and nothing else.
        credentials: "omit",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const message = err?.message || String(err);
      return { status: 0, statusText: message, body: null, reason: null, error: { message, code: "NETWORK_ERROR", status: 0 } };
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      // An empty or non-JSON body: the status still tells what happened.
    }
    const { status, statusText } = response;
    // Why the token's sign-in had already ended, when the server says (a 401 after "Log out
    // everywhere", a password change, idle, …).
    const reason = response.headers?.get?.("signoff-ended-reason") ?? null;
    return { status, statusText, body, reason, error: response.ok ? null : serverError(status, statusText, body) };
  }
}

/**
 * The error object of a non-2xx answer, from either envelope the server uses:
 * `{"error":{"message","code"}}` or `{"message","description","code"}`.
 */
function serverError(status, statusText, body) {
  const e = (body && typeof body.error === "object" ? body.error : body) ?? {};
  const error = { message: e.message || statusText || `HTTP ${status}`, code: e.code ?? status, status };
  if (e.description) error.description = e.description;
  return error;
}
