// Tests of signoff.js against a running server: SIGNOFF_URL=http://127.0.0.1:PORT node --test clients/js/test/
// Tokens are compared with assert.ok(a === b), never assert.equal, so a failure never prints one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SignoffClient, MemoryStorage, TOKEN_KEY } from "../signoff.js";

const BASE = process.env.SIGNOFF_URL?.replace(/\/+$/, "");
const needsServer = BASE ? {} : { skip: "SIGNOFF_URL is not set" };
const PASSWORD = "correct horse battery";
let counter = 0;

/** Registers a fresh user and returns its email. */
async function freshUser() {
  const email = `js-${process.pid}-${Date.now()}-${++counter}@example.com`;
  const res = await fetch(`${BASE}/api/v1/account/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(res.status, 201, "register");
  return email;
}

/** The status of GET /api/v1/account/me with this token. */
async function meStatus(token) {
  const res = await fetch(`${BASE}/api/v1/account/me`, { headers: { Authorization: `Bearer ${token}` } });
  return res.status;
}

test("login saves the token; logout revokes it and clears storage", needsServer, async () => {
  const email = await freshUser();
  const storage = new MemoryStorage();
  const client = new SignoffClient({ baseUrl: BASE, storage });

  const login = await client.login(email, PASSWORD);
  assert.equal(login.status, 200);
  assert.equal(login.error, null);
  assert.equal(login.user.email, email);
  assert.ok(typeof login.token === "string" && login.token.startsWith("so_at_"), "an opaque token");
  assert.ok(client.token === login.token, "client.token is the new token");
  assert.ok(storage.getItem(TOKEN_KEY) === login.token, "storage holds the new token");
  assert.equal(await meStatus(login.token), 200);

  const logout = await client.logout();
  assert.deepEqual(logout, { user: null, token: null, status: 200, statusText: "OK", reason: "logout", error: null });
  assert.equal(client.token, null);
  assert.equal(storage.getItem(TOKEN_KEY), null);
  assert.equal(await meStatus(login.token), 401, "the old token no longer authenticates");
});

test("a client reads the saved token at construction", needsServer, async () => {
  const email = await freshUser();
  const storage = new MemoryStorage();
  const login = await new SignoffClient({ baseUrl: BASE, storage }).login(email, PASSWORD);
  const later = new SignoffClient({ baseUrl: BASE, storage });
  assert.ok(later.token === login.token, "the second client starts with the saved token");
  assert.equal((await later.logout()).status, 200);
  assert.equal(await meStatus(login.token), 401);
});

test("logout with an already-dead token clears state and reports the 401", needsServer, async () => {
  const email = await freshUser();
  const storage = new MemoryStorage();
  const client = new SignoffClient({ baseUrl: BASE, storage });
  const { token } = await client.login(email, PASSWORD);
  // Revoke the token behind the client's back.
  const revoke = await fetch(`${BASE}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });
  assert.equal(revoke.status, 200);
  assert.ok(client.token === token, "the client does not know yet");

  const logout = await client.logout();
  assert.equal(logout.user, null);
  assert.equal(logout.token, null);
  assert.equal(logout.status, 401);
  assert.equal(logout.statusText, "Unauthorized");
  assert.deepEqual(logout.error, {
    message: "Unauthorized",
    code: "UNAUTHORIZED",
    status: 401,
    description: "Invalid, expired or missing bearer token",
    // The token was logged out before: the server says so.
    reason: "logout",
  });
  assert.equal(logout.reason, "logout");
  assert.equal(client.token, null);
  assert.equal(storage.getItem(TOKEN_KEY), null);
});

test("a wrong password reports the server's error and keeps the saved token", needsServer, async () => {
  const email = await freshUser();
  const storage = new MemoryStorage();
  storage.setItem(TOKEN_KEY, "so_at_previous");
  const client = new SignoffClient({ baseUrl: BASE, storage });
  const login = await client.login(email, "wrong password");
  assert.equal(login.status, 401);
  assert.equal(login.token, null);
  assert.deepEqual(login.error, { message: "Invalid credentials.", code: 401, status: 401 });
  assert.equal(client.token, "so_at_previous");
  assert.equal(storage.getItem(TOKEN_KEY), "so_at_previous");
});

test("logout against an unreachable server clears state and reports the error", async () => {
  const storage = new MemoryStorage();
  storage.setItem(TOKEN_KEY, "so_at_unreachable");
  const client = new SignoffClient({ baseUrl: "http://127.0.0.1:9", storage });
  assert.equal(client.token, "so_at_unreachable");

  const logout = await client.logout();
  assert.equal(logout.user, null);
  assert.equal(logout.token, null);
  assert.equal(logout.status, 0);
  assert.equal(logout.error.code, "NETWORK_ERROR");
  assert.equal(logout.error.status, 0);
  assert.ok(logout.error.message.length > 0);
  assert.equal(logout.statusText, logout.error.message);
  assert.equal(client.token, null);
  assert.equal(storage.getItem(TOKEN_KEY), null);
});

test("logout with no token sends nothing and says so", async () => {
  let calls = 0;
  const client = new SignoffClient({ baseUrl: "http://127.0.0.1:9", fetch: async () => (calls++, new Response()) });
  const logout = await client.logout();
  assert.equal(calls, 0);
  assert.equal(logout.status, 0);
  assert.equal(logout.error.code, "NO_TOKEN");
  assert.equal(client.token, null);
});

test("logout says why: 'logout' when it ends the sign-in, the server's reason when it had ended", needsServer, async () => {
  const email = await freshUser();
  const here = new SignoffClient({ baseUrl: BASE, storage: new MemoryStorage() });
  const there = new SignoffClient({ baseUrl: BASE, storage: new MemoryStorage() });
  await here.login(email, PASSWORD);
  await there.login(email, PASSWORD);
  // The other device logs out everywhere.
  const everywhere = await fetch(`${BASE}/auth/logout`, {
    method: "POST",
    headers: { Authorization: `Bearer ${there.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scope: "global" }),
  });
  assert.equal(everywhere.status, 200);
  const out = await here.logout();
  assert.equal(out.status, 401);
  assert.equal(out.reason, "logout_global");
  assert.equal(out.error.reason, "logout_global");

  await here.login(email, PASSWORD);
  const ok = await here.logout();
  assert.equal(ok.status, 200);
  assert.equal(ok.reason, "logout");
});
