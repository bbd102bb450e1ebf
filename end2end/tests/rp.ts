// Relying parties for oidc.spec.ts: Signoff as an OpenID Provider, seen only through libraries
// nobody here wrote (openid-client for the flows, jose for the logout tokens), and a tiny local
// web server that is every client's redirect_uri, post_logout_redirect_uri and back-channel
// receiver.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import * as oidc from "openid-client";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import { expect, type Page } from "@playwright/test";
import { PASSWORD, ready } from "./fixtures";
import { ROOT, startInstance, type Instance } from "./instance";

export { oidc };

/** The back-channel logout event, the only member `events` may have. */
export const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** What a discovery document says (the members these tests read). */
export type Discovery = {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
  end_session_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  [member: string]: unknown;
};

/** A Signoff of this spec's own, known to its clients only through its discovery document. */
export type Op = Instance & {
  /** The issuer: the instance's URL, exactly. */
  issuer: string;
  discovery: Discovery;
  jwks: ReturnType<typeof createRemoteJWKSet>;
  /** Stops the server and removes its database and keys. */
  stop(): Promise<void>;
};

/**
 * Starts a production-mode Signoff on a fresh SQLite file, with a fresh (not yet existing) keys
 * directory and `SIGNOFF_PUBLIC_URL` set to its own URL, and reads its discovery document.
 */
export async function startOp(): Promise<Op> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "signoff-e2e-oidc-"));
  const instance = await startInstance(`sqlite://${path.join(dir, "signoff.db")}?mode=rwc`, (url) => ({
    SIGNOFF_PUBLIC_URL: url,
    SIGNOFF_OIDC_KEYS: path.join(dir, "keys"),
    SIGNOFF_SWEEP_SECS: "1",
  }));
  const stop = async () => {
    if (instance.child.exitCode === null && instance.child.signalCode === null) {
      const exited = new Promise((r) => instance.child.once("exit", r));
      instance.child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const res = await fetch(`${instance.url}/.well-known/openid-configuration`);
    if (res.status !== 200) throw new Error(`discovery answered ${res.status}`);
    const discovery = (await res.json()) as Discovery;
    return {
      ...instance,
      issuer: instance.url,
      discovery,
      jwks: createRemoteJWKSet(new URL(discovery.jwks_uri)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs the server's own command line on the instance's database and configuration. */
export async function cli(op: Op, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(path.join(ROOT, "target/debug/signoff"), args, {
    cwd: ROOT,
    env: op.env,
    timeout: 20_000,
  });
  return stdout;
}

// ---------------------------------------------------------------------------------------------
// The relying parties' web server

/** One request to a back-channel logout URI. */
export type BackchannelPost = { label: string; contentType: string; body: string; token: string | null };

/**
 * The clients' side: `GET` of anything answers 200 "ok" (a redirect_uri or post_logout_redirect_uri
 * the browser lands on) and is remembered; `GET /form/ID` serves a form an RP posts from; `POST
 * /bc/LABEL` is a back-channel logout receiver, remembered and answered 200.
 */
export class RpServer {
  readonly hits: string[] = [];
  readonly posts: BackchannelPost[] = [];
  private readonly forms = new Map<string, string>();
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<RpServer> {
    let self: RpServer | undefined;
    const server = http.createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as import("node:net").AddressInfo;
    self = new RpServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** A page of the RP with a form that posts `fields` to `action` by a button "Continue". */
  form(action: string, fields: Record<string, string>): string {
    const id = randomBytes(8).toString("hex");
    const inputs = Object.entries(fields)
      .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
      .join("");
    this.forms.set(
      id,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RP</title></head><body>` +
        `<form method="post" action="${escapeHtml(action)}">${inputs}<button type="submit">Continue</button></form>` +
        `</body></html>`,
    );
    return `${this.url}/form/${id}`;
  }

  /** Whether any request reached a path starting with `prefix`. */
  visited(prefix: string): boolean {
    return this.hits.some((hit) => hit.startsWith(prefix));
  }

  /** The logout tokens posted to one client's back-channel URI. */
  tokens(rp: Rp): string[] {
    return this.posts.filter((p) => p.label === rp.label).map((p) => p.token ?? "");
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? "/", this.url);
    if (req.method === "GET" && url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && url.pathname.startsWith("/form/")) {
      const page = this.forms.get(url.pathname.slice("/form/".length));
      res.writeHead(page ? 200 : 404, { "content-type": "text/html; charset=utf-8" }).end(page ?? "not found");
      return;
    }
    if (req.method === "GET") {
      this.hits.push(url.pathname + url.search);
      res
        .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
        .end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RP</title></head><body><p>ok</p></body></html>`);
      return;
    }
    if (req.method === "POST" && url.pathname.startsWith("/bc/")) {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        this.posts.push({
          label: url.pathname.slice("/bc/".length),
          contentType: req.headers["content-type"] ?? "",
          body,
          token: new URLSearchParams(body).get("logout_token"),
        });
        res.writeHead(200, { "cache-control": "no-store" }).end();
      });
      return;
    }
    res.writeHead(404).end();
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------------------------
// Clients

/** A registered client and its openid-client configuration. */
export type Rp = {
  label: string;
  clientId: string;
  /** Absent for a public client. */
  secret?: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  backchannelUri: string;
  config: oidc.Configuration;
};

/**
 * Registers a client with `signoff clients add … --json` (its redirect_uri, post_logout_redirect_uri
 * and back-channel logout URI all on `server`), then configures openid-client for it through
 * discovery. Confidential clients authenticate with client_secret_basic unless `auth` says post.
 */
export async function registerRp(
  op: Op,
  server: RpServer,
  options: { public?: boolean; auth?: "basic" | "post"; backchannel?: boolean } = {},
): Promise<Rp> {
  const label = randomBytes(6).toString("hex");
  const redirectUri = `${server.url}/cb/${label}`;
  const postLogoutRedirectUri = `${server.url}/logged-out/${label}`;
  const backchannelUri = `${server.url}/bc/${label}`;
  const args = ["clients", "add", "--name", `e2e ${label}`, "--redirect-uri", redirectUri];
  args.push("--post-logout-redirect-uri", postLogoutRedirectUri);
  if (options.backchannel !== false) args.push("--backchannel-logout-uri", backchannelUri);
  if (options.public) args.push("--public");
  args.push("--json");
  const out = await cli(op, args);
  const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  expect(line, `clients add printed JSON: ${out}`).toBeTruthy();
  const registered = JSON.parse(line!) as { client_id: string; client_secret?: string };
  expect(typeof registered.client_id).toBe("string");
  if (options.public) expect(registered).not.toHaveProperty("client_secret");
  else expect(typeof registered.client_secret).toBe("string");

  const auth = options.public
    ? oidc.None()
    : options.auth === "post"
      ? oidc.ClientSecretPost(registered.client_secret)
      : oidc.ClientSecretBasic(registered.client_secret);
  const config = await oidc.discovery(new URL(op.issuer), registered.client_id, undefined, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  // The ID token's signature, too, is checked against jwks_uri (not only its claims).
  oidc.enableNonRepudiationChecks(config);
  return {
    label,
    clientId: registered.client_id,
    secret: registered.client_secret,
    redirectUri,
    postLogoutRedirectUri,
    backchannelUri,
    config,
  };
}

/** An authorization request and what the client keeps of it to check the answer. */
export type AuthorizationRequest = { state: string; nonce: string; verifier: string; url: URL };

/** What a code flow gave the client. */
export type Grant = {
  tokens: oidc.TokenEndpointResponse;
  idToken: string;
  claims: oidc.IDToken;
  /** The authorization request, and the redirect_uri URL it came back to with the code. */
  request: AuthorizationRequest;
  callback: URL;
};

/** An authorization request with PKCE S256, state and nonce (and any `extra` parameters). */
export async function authorizationRequest(rp: Rp, extra: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri,
    scope: "openid email offline_access",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  return { state, nonce, verifier, url };
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The page has arrived at the client's redirect_uri (with a query); returns that URL. */
export async function atRedirectUri(page: Page, rp: Rp): Promise<URL> {
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(rp.redirectUri)}\\?`), { timeout: 10_000 });
  return new URL(page.url());
}

/**
 * The code flow in the browser: goes to the authorization endpoint; when `email` is given the
 * person is not signed in yet and signs in on Signoff's own /login page; back at the redirect_uri,
 * the code is exchanged by openid-client (state, nonce, PKCE, ID token claims and signature).
 */
export async function codeFlow(
  page: Page,
  js: boolean,
  rp: Rp,
  email?: string,
  options: { extra?: Record<string, string>; reauth?: boolean; maxAge?: number } = {},
): Promise<Grant> {
  const request = await authorizationRequest(rp, options.extra);
  await page.goto(request.url.href);
  if (email !== undefined) {
    // `reauth`: signed in already, the person is asked to confirm it is them (prompt=login, max_age).
    await expect(page).toHaveURL(options.reauth ? /\/login\?reauth=1&next=/ : /\/login\?next=/);
    await ready(page, js);
    if (options.reauth) await expect(page.getByText("An application asks you to confirm it is you.")).toBeVisible();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  const callback = await atRedirectUri(page, rp);
  const tokens = await oidc.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
    idTokenExpected: true,
    // openid-client checks auth_time against max_age itself.
    maxAge: options.maxAge,
  });
  const claims = tokens.claims()!;
  expect(tokens.id_token).toBeTruthy();
  expect(typeof claims.sid, "the ID token has a sid").toBe("string");
  expect(claims.sid).not.toBe("");
  return { tokens, idToken: tokens.id_token!, claims, request, callback };
}

/** Checks an ID token with jose as well: RS256, a kid, a key of jwks_uri, iss and aud. */
export async function verifyIdToken(op: Op, rp: Rp, idToken: string): Promise<JWTPayload> {
  const header = decodeProtectedHeader(idToken);
  expect(header.alg).toBe("RS256");
  expect(typeof header.kid).toBe("string");
  const { payload } = await jwtVerify(idToken, op.jwks, {
    issuer: op.issuer,
    audience: rp.clientId,
    algorithms: ["RS256"],
  });
  return payload;
}

// ---------------------------------------------------------------------------------------------
// Checks on tokens

/** POSTs to the introspection endpoint, authenticated as `as` (a confidential client) with Basic. */
export async function introspect(op: Op, as: Rp, token: string): Promise<Record<string, unknown>> {
  expect(as.secret, "introspection needs a confidential client").toBeTruthy();
  const basic = Buffer.from(`${encodeURIComponent(as.clientId)}:${encodeURIComponent(as.secret!)}`).toString("base64");
  const res = await fetch(op.discovery.introspection_endpoint, {
    method: "POST",
    headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }).toString(),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** GETs userinfo with a bearer token; the raw response. */
export function userinfo(op: Op, accessToken: string): Promise<Response> {
  return fetch(op.discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
}

/** Whatever a promise rejects with (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection, but it resolved");
    },
    (err: unknown) => err,
  );
}

/** The token endpoint refused a grant with this OAuth error code. */
export async function expectGrantError(promise: Promise<unknown>, code: string) {
  const err = await rejection(promise);
  expect(err, String(err)).toBeInstanceOf(oidc.ResponseBodyError);
  expect((err as oidc.ResponseBodyError).error).toBe(code);
}

/**
 * The token endpoint refused the client's authentication: invalid_client (RFC 6749 §5.2), as a
 * body or, with a 401, as a WWW-Authenticate challenge.
 */
export async function expectClientRefused(promise: Promise<unknown>) {
  const err = await rejection(promise);
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    expect(err.status).toBe(401);
  } else {
    expect(err, String(err)).toBeInstanceOf(oidc.ResponseBodyError);
    expect((err as oidc.ResponseBodyError).error).toBe("invalid_client");
  }
}

/**
 * Every token the client got in an ended sign-in is refused: refresh → invalid_grant, userinfo →
 * 401 with `WWW-Authenticate: Bearer error="invalid_token"`, introspection → exactly
 * `{"active":false}` for the access and the refresh token. `as` introspects (default: `rp`).
 */
export async function expectEnded(op: Op, rp: Rp, grant: Grant, as: Rp = rp) {
  const { access_token, refresh_token } = grant.tokens;
  expect(refresh_token, "the code flow gave a refresh token").toBeTruthy();
  expect(await introspect(op, as, access_token)).toStrictEqual({ active: false });
  expect(await introspect(op, as, refresh_token!)).toStrictEqual({ active: false });
  const res = await userinfo(op, access_token);
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate") ?? "").toMatch(/^Bearer\b.*\berror="invalid_token"/);
  await expectGrantError(oidc.refreshTokenGrant(rp.config, refresh_token!), "invalid_grant");
}

/** The access token still works: introspection says active, userinfo answers. */
export async function expectActive(op: Op, rp: Rp, grant: Grant, as: Rp = rp) {
  const info = await introspect(op, as, grant.tokens.access_token);
  expect(info.active).toBe(true);
  expect(info.sid).toBe(grant.claims.sid);
  const res = await userinfo(op, grant.tokens.access_token);
  expect(res.status).toBe(200);
}

// ---------------------------------------------------------------------------------------------
// Logout tokens

/** Every jti seen by this worker, with the token that carried it. */
const seenJti = new Map<string, string>();

function sidOf(token: string): unknown {
  try {
    return decodeJwt(token).sid;
  } catch {
    return undefined;
  }
}

/**
 * Validates a logout token with jose the way a relying party must (Back-Channel Logout 1.0 §2.6):
 * signature by a key of jwks_uri, RS256 with a kid, `typ: logout+jwt`, iss, aud = the client, iat,
 * exp ≤ iat + 120, a jti never seen before, `events` exactly the back-channel event, no nonce.
 */
export async function verifyLogoutToken(op: Op, rp: Rp, token: string): Promise<JWTPayload> {
  const { payload, protectedHeader } = await jwtVerify(token, op.jwks, {
    issuer: op.issuer,
    audience: rp.clientId,
    typ: "logout+jwt",
    algorithms: ["RS256"],
  });
  expect(protectedHeader.alg).toBe("RS256");
  expect(protectedHeader.typ).toBe("logout+jwt");
  expect(typeof protectedHeader.kid).toBe("string");
  expect(protectedHeader.kid).not.toBe("");
  expect(typeof payload.iat).toBe("number");
  expect(typeof payload.exp).toBe("number");
  expect(payload.exp!).toBeLessThanOrEqual(payload.iat! + 120);
  expect(Math.abs(payload.iat! - Date.now() / 1000), "iat is now").toBeLessThan(60);
  expect(typeof payload.jti).toBe("string");
  expect(payload.jti).not.toBe("");
  const earlier = seenJti.get(payload.jti!);
  expect(earlier === undefined || earlier === token, `jti ${payload.jti} is unique`).toBe(true);
  seenJti.set(payload.jti!, token);
  expect(payload.events).toStrictEqual({ [BACKCHANNEL_EVENT]: {} });
  expect(payload).not.toHaveProperty("nonce");
  return payload;
}

/**
 * Waits (at most 10 s) for the client's back-channel receiver to get the logout token of the
 * grant's sign-in, then checks that exactly one came, that every post to this client was a valid
 * form-encoded logout token, and that its sub and sid are the ID token's.
 */
export async function expectLogoutToken(op: Op, server: RpServer, rp: Rp, grant: Grant): Promise<JWTPayload> {
  const forSid = () => server.tokens(rp).filter((t) => sidOf(t) === grant.claims.sid);
  await expect
    .poll(() => forSid().length, { message: `a logout token reaches ${rp.label}`, timeout: 10_000 })
    .toBeGreaterThan(0);
  for (const post of server.posts.filter((p) => p.label === rp.label)) {
    expect(post.contentType).toMatch(/^application\/x-www-form-urlencoded\b/);
    expect(post.token, "the body carries logout_token").toBeTruthy();
    await verifyLogoutToken(op, rp, post.token!);
  }
  const tokens = forSid();
  expect(tokens, "exactly one logout token for this sign-in").toHaveLength(1);
  const payload = await verifyLogoutToken(op, rp, tokens[0]);
  expect(payload.sub).toBe(grant.claims.sub);
  expect(payload.sid).toBe(grant.claims.sid);
  return payload;
}

/** No logout token has reached the client for the grant's sign-in (so far). */
export function expectNoLogoutToken(server: RpServer, rp: Rp, grant: Grant) {
  expect(server.tokens(rp).filter((t) => sidOf(t) === grant.claims.sid)).toHaveLength(0);
}

/** The ID token with its header changed to `alg: none` and no signature (the conformance suite's). */
export function unsignedIdToken(idToken: string): string {
  const [, payload] = idToken.split(".");
  const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
  return `${header}.${payload}.`;
}

/** The ID token with a claim added to its payload and the original signature kept. */
export function alteredIdToken(idToken: string): string {
  const [header, payload, signature] = idToken.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  const altered = Buffer.from(JSON.stringify({ ...claims, email: "mallory@example.com" })).toString("base64url");
  return `${header}.${altered}.${signature}`;
}
