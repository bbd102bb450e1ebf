import type { Browser, BrowserContext, Page } from "@playwright/test";
import { test as base, expect, freshEmail, register, signIn, ready, watchErrors } from "./fixtures";
import {
  alteredIdToken,
  atRedirectUri,
  authorizationRequest,
  cli,
  codeFlow,
  escapeRegExp,
  expectActive,
  expectClientRefused,
  expectEnded,
  expectGrantError,
  expectLogoutToken,
  expectNoLogoutToken,
  introspect,
  oidc,
  registerRp,
  RpServer,
  startOp,
  unsignedIdToken,
  userinfo,
  verifyIdToken,
  type Grant,
  type Op,
  type Rp,
} from "./rp";

// Signoff as an OpenID Provider, driven by relying-party libraries nobody here wrote: openid-client
// runs the flows, jose validates the back-channel logout tokens. Each worker starts a Signoff of its
// own (production mode, fresh database and keys directory, SIGNOFF_PUBLIC_URL = its own URL, the
// sweep every second) and a tiny local web server that is every client's redirect_uri,
// post_logout_redirect_uri and back-channel receiver. Every test registers its own clients with
// `signoff clients add` and its own account; the browser pages of each test are on that server.
// Each test runs twice: project "js" (hydrated app) and project "no-js" (plain HTML forms).

const test = base.extend<object, { op: Op; rpServer: RpServer }>({
  op: [
    async ({}, use) => {
      const op = await startOp();
      await use(op);
      await op.stop();
    },
    { scope: "worker", timeout: 60_000 },
  ],
  rpServer: [
    async ({}, use) => {
      const server = await RpServer.start();
      await use(server);
      await server.close();
    },
    { scope: "worker" },
  ],
  baseURL: async ({ op }, use) => use(op.url),
});

/** Another browser (a second device) on the spec's server, its errors failing the test too. */
async function device(browser: Browser, js: boolean, op: Op, errors: string[]): Promise<BrowserContext> {
  const context = await browser.newContext({ javaScriptEnabled: js, baseURL: op.url });
  watchErrors(context, errors);
  return context;
}

/** A registered account, signed in on /login through the client's authorization request. */
async function signedInWithRp(page: Page, js: boolean, op: Op, rpServer: RpServer): Promise<{ rp: Rp; email: string; grant: Grant }> {
  const rp = await registerRp(op, rpServer);
  const email = freshEmail();
  await register(page, js, email);
  const grant = await codeFlow(page, js, rp, email);
  await verifyIdToken(op, rp, grant.idToken);
  return { rp, email, grant };
}

/** Waits for hydration when the page is one of the app's (the logout prompt may be plain HTML). */
async function settle(page: Page, js: boolean) {
  if (js && (await page.locator('link[rel="modulepreload"], script[type="module"]').count()) > 0) await ready(page, js);
}

/** On /login, saying the person has logged out. */
async function expectLoggedOutPage(page: Page, op: Op) {
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(op.url)}/login(\\?|$)`));
  await expect(page.getByRole("status")).toHaveText("You have logged out.");
}

/** This browser's sign-in is over: the home page sends it to /login. */
async function expectSignedOut(page: Page, op: Op) {
  await page.goto("/");
  await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(op.url)}/login`));
}

/** This browser is still signed in (seen from another tab, so the page under test stays put). */
async function expectStillSignedIn(context: BrowserContext, js: boolean, op: Op, email: string) {
  const probe = await context.newPage();
  await probe.goto("/");
  await expect(probe).toHaveURL(`${op.url}/`);
  await expect(probe.getByText(email).first()).toBeVisible();
  await ready(probe, js);
  await probe.close();
}

/** The RP-initiated logout request, as a GET or as the RP's own form POST. */
async function endSession(page: Page, op: Op, rpServer: RpServer, method: "GET" | "POST", params: Record<string, string>) {
  if (method === "GET") {
    const url = new URL(op.discovery.end_session_endpoint);
    for (const [name, value] of Object.entries(params)) url.searchParams.append(name, value);
    await page.goto(url.href);
  } else {
    await page.goto(rpServer.form(op.discovery.end_session_endpoint, params));
    await page.getByRole("button", { name: "Continue" }).click();
  }
}

const ASK = "Log out of Signoff?";

/**
 * The prompt's own "Log out" button. A signed-in page of the app also has one in its header, which
 * comes first and ends the same sign-in; the prompt's is the last.
 */
function confirmButton(page: Page) {
  return page.getByRole("button", { name: "Log out", exact: true }).last();
}

test.describe("discovery and flows", () => {
  test("discovery names every endpoint, and jwks_uri serves public RSA signing keys", async ({ op }) => {
    const d = op.discovery;
    expect(d.issuer).toBe(op.url);
    for (const member of [
      "authorization_endpoint",
      "token_endpoint",
      "userinfo_endpoint",
      "jwks_uri",
      "end_session_endpoint",
      "introspection_endpoint",
      "revocation_endpoint",
    ]) {
      expect(typeof d[member], member).toBe("string");
      expect(new URL(d[member] as string).origin, member).toBe(op.url);
    }
    expect(d.response_types_supported).toEqual(["code"]);
    expect(d.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials"]));
    expect(d.code_challenge_methods_supported).toEqual(["S256"]);
    expect(d.subject_types_supported).toEqual(["public"]);
    expect(d.id_token_signing_alg_values_supported).toContain("RS256");
    expect(d.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["client_secret_basic", "client_secret_post", "none"]),
    );
    expect(d.scopes_supported).toEqual(expect.arrayContaining(["openid", "email", "offline_access"]));
    expect(d.backchannel_logout_supported).toBe(true);
    expect(d.backchannel_logout_session_supported).toBe(true);

    const res = await fetch(d.jwks_uri);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256" });
      expect(typeof key.kid).toBe("string");
      expect(Buffer.from(key.n as string, "base64url").length * 8).toBeGreaterThanOrEqual(2048);
      for (const secret of ["d", "p", "q", "dp", "dq", "qi", "oth"]) expect(key, `no private "${secret}"`).not.toHaveProperty(secret);
    }

    // openid-client finds the same issuer through the same document.
    const config = await oidc.discovery(new URL(op.issuer), "discovery-only", undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    expect(config.serverMetadata().issuer).toBe(op.issuer);
    expect(config.serverMetadata().end_session_endpoint).toBe(d.end_session_endpoint);
  });

  test("the code flow with PKCE through /login: ID token, userinfo, introspection, rotating refresh", async ({ page, js, op, rpServer }) => {
    const { rp, email, grant } = await signedInWithRp(page, js, op, rpServer);
    const { claims } = grant;
    expect(claims.iss).toBe(op.issuer);
    expect(claims.sub).not.toBe(email);
    expect(typeof claims.auth_time).toBe("number");
    expect(claims.auth_time!).toBeLessThanOrEqual(claims.iat);
    expect(grant.tokens.token_type.toLowerCase()).toBe("bearer");
    expect(typeof grant.tokens.expires_in).toBe("number");
    // The sid names the sign-in publicly; it is not the session cookie's value.
    for (const cookie of await page.context().cookies(op.url)) {
      expect(cookie.value).not.toContain(claims.sid as string);
    }

    const info = await oidc.fetchUserInfo(rp.config, grant.tokens.access_token, claims.sub);
    expect(info.sub).toBe(claims.sub);
    expect(info.email).toBe(email);

    const active = await introspect(op, rp, grant.tokens.access_token);
    expect(active).toMatchObject({ active: true, client_id: rp.clientId, sub: claims.sub, sid: claims.sid });
    for (const member of ["scope", "exp", "iat", "token_type"]) expect(active).toHaveProperty(member);
    expect(String(active.scope).split(" ")).toEqual(expect.arrayContaining(["openid", "email"]));

    // Refresh rotates the refresh token; the new access token works (an ID token is optional here).
    const refreshed = await oidc.refreshTokenGrant(rp.config, grant.tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(grant.tokens.refresh_token);
    if (refreshed.id_token) {
      expect(refreshed.claims()!.sub).toBe(claims.sub);
      expect(refreshed.claims()!.sid).toBe(claims.sid);
    }
    expect((await oidc.fetchUserInfo(rp.config, refreshed.access_token, claims.sub)).email).toBe(email);
    expect(await introspect(op, rp, refreshed.access_token)).toMatchObject({ active: true, sid: claims.sid });

    // The browser is still signed in on Signoff itself.
    await page.goto("/");
    await expect(page.getByText(email).first()).toBeVisible();
    await ready(page, js);
  });

  test("a public client: prompt=none says login_required, PKCE is required, then it signs in silently", async ({ page, js, op, rpServer }) => {
    const rp = await registerRp(op, rpServer, { public: true });
    const email = freshEmail();
    await register(page, js, email);

    const silent = await authorizationRequest(rp, { prompt: "none" });
    await page.goto(silent.url.href);
    const denied = await atRedirectUri(page, rp);
    expect(denied.searchParams.get("error")).toBe("login_required");
    expect(denied.searchParams.get("state")).toBe(silent.state);
    expect(denied.searchParams.has("code")).toBe(false);

    const grant = await codeFlow(page, js, rp, email);
    await verifyIdToken(op, rp, grant.idToken);

    // Without a code_challenge a public client is refused, back at its redirect_uri.
    const state = oidc.randomState();
    const noPkce = oidc.buildAuthorizationUrl(rp.config, { redirect_uri: rp.redirectUri, scope: "openid", state });
    await page.goto(noPkce.href);
    const refused = await atRedirectUri(page, rp);
    expect(refused.searchParams.get("error")).toBe("invalid_request");
    expect(refused.searchParams.get("state")).toBe(state);
    expect(refused.searchParams.has("code")).toBe(false);

    // Signed in, prompt=none answers with a code of the same sign-in.
    const again = await authorizationRequest(rp, { prompt: "none" });
    await page.goto(again.url.href);
    const callback = await atRedirectUri(page, rp);
    const second = await oidc.authorizationCodeGrant(rp.config, callback, {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
      expectedNonce: again.nonce,
      idTokenExpected: true,
    });
    expect(second.claims()!.sub).toBe(grant.claims.sub);
    expect(second.claims()!.sid).toBe(grant.claims.sid);
    expect(second.claims()!.auth_time).toBe(grant.claims.auth_time);

    // A public client refreshes with no secret.
    const refreshed = await oidc.refreshTokenGrant(rp.config, second.refresh_token!);
    expect((await oidc.fetchUserInfo(rp.config, refreshed.access_token, grant.claims.sub)).email).toBe(email);
  });

  test("prompt=login asks for the password again: the same sign-in, a fresh auth_time, the first grant still works", async ({ page, js, op, rpServer }) => {
    const { rp, email, grant } = await signedInWithRp(page, js, op, rpServer);
    const again = await codeFlow(page, js, rp, email, { extra: { prompt: "login" }, reauth: true, maxAge: 60 });
    expect(again.claims.sid).toBe(grant.claims.sid);
    expect(again.claims.auth_time!).toBeGreaterThanOrEqual(grant.claims.auth_time!);
    await expectActive(op, rp, grant);
    await page.goto("/");
    await expect(page.getByText(email).first()).toBeVisible();
    await ready(page, js);
  });

  test("a code works once: its second use is invalid_grant and revokes what the first gave", async ({ page, js, op, rpServer }) => {
    const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
    expect((await userinfo(op, grant.tokens.access_token)).status).toBe(200);
    await expectGrantError(
      oidc.authorizationCodeGrant(rp.config, grant.callback, {
        pkceCodeVerifier: grant.request.verifier,
        expectedState: grant.request.state,
        expectedNonce: grant.request.nonce,
      }),
      "invalid_grant",
    );
    const res = await userinfo(op, grant.tokens.access_token);
    expect(res.status).toBe(401);
    expect(await introspect(op, rp, grant.tokens.access_token)).toStrictEqual({ active: false });
    await expectGrantError(oidc.refreshTokenGrant(rp.config, grant.tokens.refresh_token!), "invalid_grant");
  });

  test("client_credentials with client_secret_post; a wrong secret and an unregistered redirect_uri are refused", async ({ op, rpServer }) => {
    const rp = await registerRp(op, rpServer, { auth: "post" });
    const tokens = await oidc.clientCredentialsGrant(rp.config);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.id_token).toBeUndefined();
    expect(await introspect(op, rp, tokens.access_token)).toMatchObject({ active: true, client_id: rp.clientId });

    const wrong = await oidc.discovery(new URL(op.issuer), rp.clientId, undefined, oidc.ClientSecretPost("not-the-secret"), {
      execute: [oidc.allowInsecureRequests],
    });
    await expectClientRefused(oidc.clientCredentialsGrant(wrong));

    // An unregistered redirect_uri: an error page of Signoff's, never a redirect.
    const bad = oidc.buildAuthorizationUrl(rp.config, {
      redirect_uri: `${rpServer.url}/unregistered/${rp.label}`,
      scope: "openid",
      state: oidc.randomState(),
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
    });
    const res = await fetch(bad, { redirect: "manual" });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("location")).toBeNull();
    expect(rpServer.visited(`/unregistered/${rp.label}`)).toBe(false);
  });
});

test.describe("back-channel logout: every ending sends one logout token and ends every token", () => {
  test("Log out on the home page", async ({ page, js, op, rpServer }) => {
    const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
    await expectActive(op, rp, grant);
    expectNoLogoutToken(rpServer, rp, grant);

    await page.goto("/");
    await ready(page, js);
    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/login\?logged_out=1$/);

    await expectLogoutToken(op, rpServer, rp, grant);
    await expectEnded(op, rp, grant);
    expect(rpServer.tokens(rp)).toHaveLength(1);
  });

  test("RP-initiated logout with id_token_hint: both clients of the sign-in hear it, the browser goes back with state", async ({ page, js, op, rpServer }) => {
    const { rp: a, grant: ga } = await signedInWithRp(page, js, op, rpServer);
    const b = await registerRp(op, rpServer);
    // Already signed in: the second client gets its code without the login page.
    const gb = await codeFlow(page, js, b);
    expect(gb.claims.sid).toBe(ga.claims.sid);
    expect(gb.claims.sub).toBe(ga.claims.sub);

    const state = oidc.randomState();
    const url = oidc.buildEndSessionUrl(a.config, {
      id_token_hint: ga.idToken,
      post_logout_redirect_uri: a.postLogoutRedirectUri,
      state,
    });
    await page.goto(url.href);
    await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(a.postLogoutRedirectUri)}\\?`));
    const landed = new URL(page.url());
    expect(`${landed.origin}${landed.pathname}`).toBe(a.postLogoutRedirectUri);
    expect([...landed.searchParams]).toEqual([["state", state]]);

    await expectLogoutToken(op, rpServer, a, ga);
    await expectLogoutToken(op, rpServer, b, gb);
    await expectEnded(op, a, ga);
    await expectEnded(op, b, gb);
    await expectSignedOut(page, op);
    expect(rpServer.tokens(a)).toHaveLength(1);
    expect(rpServer.tokens(b)).toHaveLength(1);
  });

  test("RP-initiated logout by a form POST without state: back to post_logout_redirect_uri with no state", async ({ page, js, op, rpServer }) => {
    const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
    await endSession(page, op, rpServer, "POST", {
      id_token_hint: grant.idToken,
      post_logout_redirect_uri: rp.postLogoutRedirectUri,
    });
    await expect(page).toHaveURL(rp.postLogoutRedirectUri);

    await expectLogoutToken(op, rpServer, rp, grant);
    await expectEnded(op, rp, grant);
    await expectSignedOut(page, op);
  });

  test("/sessions: Log out everywhere", async ({ page, js, op, rpServer }) => {
    const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
    await page.goto("/sessions");
    await ready(page, js);
    await page.getByRole("button", { name: "Log out everywhere" }).click();
    await expect(page).toHaveURL(/\/login\?logged_out=1$/);

    await expectLogoutToken(op, rpServer, rp, grant);
    await expectEnded(op, rp, grant);
  });

  test("/sessions on another device: Log out of all other sessions, then a sign-in's own Log out", async ({ page, js, op, rpServer, browser, errors }) => {
    test.setTimeout(60_000);
    const { rp, email, grant: first } = await signedInWithRp(page, js, op, rpServer);
    const phone = await device(browser, js, op, errors);
    const other = await phone.newPage();
    await signIn(other, js, email);

    await other.goto("/sessions");
    await ready(other, js);
    await other.getByRole("button", { name: "Log out of all other sessions" }).click();
    await expect(other.getByText("You are signed out everywhere else. This browser stays signed in.")).toBeVisible();
    await expectLogoutToken(op, rpServer, rp, first);
    await expectEnded(op, rp, first);

    // This browser signs in again through the client; the other device ends just that sign-in.
    const second = await codeFlow(page, js, rp, email);
    expect(second.claims.sid).not.toBe(first.claims.sid);
    await other.goto("/sessions");
    await ready(other, js);
    await other.getByRole("button", { name: /^Log out Browser session/ }).click();
    await expect(other.getByText("That session is signed out.")).toBeVisible();
    await expectLogoutToken(op, rpServer, rp, second);
    await expectEnded(op, rp, second);
    await expectSignedOut(page, op);

    // The other device is still signed in.
    await other.goto("/");
    await expect(other.getByText(email).first()).toBeVisible();
    await ready(other, js);
    await phone.close();
  });

  test("the operator's `signoff sessions end --email`", async ({ page, js, op, rpServer }) => {
    const { rp, email, grant } = await signedInWithRp(page, js, op, rpServer);
    const out = await cli(op, ["sessions", "end", "--email", email, "--reason", "end-to-end test"]);
    expect(out).toMatch(/Ended [1-9]\d* sign-ins? of /);

    await expectLogoutToken(op, rpServer, rp, grant);
    await expectEnded(op, rp, grant);
    await expectSignedOut(page, op);
  });
});

// The negative cases of the OpenID conformance suite's RP-initiated logout plan. Where Signoff
// cannot tell that this browser's own client asks, it asks the person; nothing ends until "Log out"
// is pressed, and then the person lands on /login, never on a URI the request named.
test.describe("RP-initiated logout that asks first", () => {
  type Case = {
    name: string;
    method: "GET" | "POST";
    params: (rp: Rp, grant: Grant, foreign: Grant | undefined) => Record<string, string>;
    foreign?: boolean;
  };
  const cases: Case[] = [
    {
      name: "no id_token_hint",
      method: "GET",
      params: (rp) => ({ post_logout_redirect_uri: rp.postLogoutRedirectUri, state: oidc.randomState() }),
    },
    {
      name: "an id_token_hint changed to alg none",
      method: "GET",
      params: (rp, grant) => ({
        id_token_hint: unsignedIdToken(grant.idToken),
        post_logout_redirect_uri: rp.postLogoutRedirectUri,
        state: oidc.randomState(),
      }),
    },
    {
      name: "an id_token_hint whose claims were altered",
      method: "POST",
      params: (rp, grant) => ({
        id_token_hint: alteredIdToken(grant.idToken),
        post_logout_redirect_uri: rp.postLogoutRedirectUri,
        state: oidc.randomState(),
      }),
    },
    {
      name: "the id_token_hint of another sign-in",
      method: "GET",
      foreign: true,
      params: (rp, _grant, foreign) => ({
        id_token_hint: foreign!.idToken,
        post_logout_redirect_uri: rp.postLogoutRedirectUri,
        state: oidc.randomState(),
      }),
    },
    { name: "only state", method: "POST", params: () => ({ state: oidc.randomState() }) },
    { name: "no parameters", method: "GET", params: () => ({}) },
  ];

  for (const c of cases) {
    test(`${c.name} (${c.method})`, async ({ page, context, js, op, rpServer, browser, errors }) => {
      const { rp, email, grant } = await signedInWithRp(page, js, op, rpServer);
      // Another sign-in of the same account, on another device, through the same client.
      let foreign: Grant | undefined;
      let phone: BrowserContext | undefined;
      if (c.foreign) {
        phone = await device(browser, js, op, errors);
        foreign = await codeFlow(await phone.newPage(), js, rp, email);
        expect(foreign.claims.sid).not.toBe(grant.claims.sid);
      }

      await endSession(page, op, rpServer, c.method, c.params(rp, grant, foreign));
      await expect(page.getByText(ASK, { exact: true }).first()).toBeVisible();
      expect(new URL(page.url()).origin, "the prompt is Signoff's").toBe(op.url);
      const logOut = confirmButton(page);
      await expect(logOut).toBeVisible();

      // Nothing has ended yet.
      await expectActive(op, rp, grant);
      expectNoLogoutToken(rpServer, rp, grant);
      await expectStillSignedIn(context, js, op, email);

      await settle(page, js);
      await logOut.click();
      await expectLoggedOutPage(page, op);
      await expectLogoutToken(op, rpServer, rp, grant);
      await expectEnded(op, rp, grant);
      await expectSignedOut(page, op);
      expect(rpServer.visited(`/logged-out/${rp.label}`), "never sent to the post_logout_redirect_uri").toBe(false);

      if (foreign) {
        // The sign-in the hint named was not this browser's: it goes on.
        await expectActive(op, rp, foreign);
        expectNoLogoutToken(rpServer, rp, foreign);
        await phone!.close();
      }
    });
  }
});

test.describe("RP-initiated logout with a valid id_token_hint and no registered redirect", () => {
  test("no post_logout_redirect_uri: the sign-in ends at once and the person lands on /login", async ({ page, js, op, rpServer }) => {
    const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
    await endSession(page, op, rpServer, "GET", { id_token_hint: grant.idToken, state: oidc.randomState() });
    await expectLoggedOutPage(page, op);
    await expectLogoutToken(op, rpServer, rp, grant);
    await expectEnded(op, rp, grant);
    expect(rpServer.visited(`/logged-out/${rp.label}`), "never sent to the post_logout_redirect_uri").toBe(false);
  });

  // The contract lets Signoff either end the sign-in at once (a valid hint) and show /login, or
  // ask first; either way the named URI is never visited.
  const unregistered: { name: string; method: "GET" | "POST"; uri: (rp: Rp, server: RpServer) => string; prefix: (rp: Rp) => string }[] = [
    {
      name: "an unregistered post_logout_redirect_uri",
      method: "GET",
      uri: (rp, server) => `${server.url}/unregistered/${rp.label}`,
      prefix: (rp) => `/unregistered/${rp.label}`,
    },
    {
      name: "a query added to the registered post_logout_redirect_uri",
      method: "POST",
      uri: (rp) => `${rp.postLogoutRedirectUri}?extra=1`,
      prefix: (rp) => `/logged-out/${rp.label}`,
    },
  ];
  for (const c of unregistered) {
    test(`${c.name} is never redirected to (${c.method})`, async ({ page, js, op, rpServer }) => {
      const { rp, grant } = await signedInWithRp(page, js, op, rpServer);
      await endSession(page, op, rpServer, c.method, {
        id_token_hint: grant.idToken,
        post_logout_redirect_uri: c.uri(rp, rpServer),
        state: oidc.randomState(),
      });
      const asked = page.getByText(ASK, { exact: true }).first();
      const done = page.getByRole("status").filter({ hasText: "You have logged out." });
      await expect(asked.or(done).first()).toBeVisible();
      if (await asked.isVisible()) {
        await settle(page, js);
        await confirmButton(page).click();
      }
      await expectLoggedOutPage(page, op);
      await expectLogoutToken(op, rpServer, rp, grant);
      await expectEnded(op, rp, grant);
      expect(rpServer.visited(c.prefix(rp)), "never sent to the URI the request named").toBe(false);
    });
  }
});
