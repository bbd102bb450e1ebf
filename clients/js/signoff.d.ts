// Types for signoff.js.

/** The storage key under which the access token is saved: "signoff.token". */
export declare const TOKEN_KEY: "signoff.token";

/** The part of the Web Storage API the client uses (`localStorage` fits). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A Storage-like object kept in memory: the default outside a browser. */
export declare class MemoryStorage implements StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
  clear(): void;
}

export interface User {
  id: string;
  email: string;
  [field: string]: unknown;
}

export interface SignoffError {
  /** The server's message ("Invalid credentials.", "Unauthorized"), or the network error's. */
  message: string;
  /**
   * The server's code (401, "UNAUTHORIZED", …), or one of the client's own:
   * "NETWORK_ERROR" (server unreachable or timed out), "NO_TOKEN" (logout() with no token),
   * "BAD_RESPONSE" (a 2xx login answer without a token).
   */
  code: string | number;
  /** The HTTP status; 0 when no answer came. */
  status: number;
  /** The server's longer explanation, when it gave one. */
  description?: string;
  /** On a 401 for a token whose sign-in had ended: why ("logout_global", "password_changed", "idle", …). */
  reason?: string;
}

export interface SignoffResponse {
  user: User | null;
  token: string | null;
  /** The HTTP status; 0 when no answer came (network failure, or no token to log out). */
  status: number;
  /** The HTTP status text; the error message when status is 0. */
  statusText: string;
  /** null on success. */
  error: SignoffError | null;
}

/** What logout() resolves to: the user and token are always gone. */
export interface LogoutResponse extends SignoffResponse {
  user: null;
  token: null;
  /**
   * Why the sign-in is over: "logout" when this call ended it; when it had already ended
   * elsewhere (401), the server's reason ("logout_global", "logout_others", "password_changed",
   * "idle", "absolute", "refresh_reuse", "revoked", "admin", "expired"); null when unknown.
   */
  reason: string | null;
}

export interface SignoffClientOptions {
  /** The server's origin, e.g. "https://signoff.example"; "" (the default) means the page's own origin. */
  baseUrl?: string;
  /** Where the token is saved: `localStorage` in a browser, a MemoryStorage elsewhere by default. */
  storage?: StorageLike;
  /** A fetch implementation; the global fetch by default. */
  fetch?: typeof fetch;
  /** How long a request may take, in milliseconds; 10 000 by default. */
  timeoutMs?: number;
}

export declare class SignoffClient {
  constructor(options?: SignoffClientOptions);
  /** The current access token (read from storage at construction), or null when logged out. */
  readonly token: string | null;
  /** Logs in and saves the token. Never rejects; on failure `error` is set and the saved token is kept. */
  login(email: string, password: string): Promise<SignoffResponse>;
  /** Logs out on the server and always forgets the token locally. Never rejects. */
  logout(): Promise<LogoutResponse>;
}
