// The browser and relying-party side of bench/oidc.sh, for Signoff and for the oidc-provider peer
// (bench/peers/oidc-provider/). Node's standard library only; talks only to 127.0.0.1.
//
//   node bench/oidc-flows.mjs logout KIND BASE CLIENTS RECEIVER_PORT N [LOAD_RATE LOAD_TOKENS]
//   node bench/oidc-flows.mjs mint   KIND BASE CLIENTS COUNT        # COUNT refresh tokens, one a line
//                                                                  # (16 per sign-in, or $MINT_PER_SIGNIN)
//   node bench/oidc-flows.mjs access KIND BASE CLIENTS              # one live access token
//
// KIND is `signoff` or `peer`; CLIENTS a JSON file [{"client_id", "client_secret", "redirect_uri",
// "post_logout_redirect_uri"}, …] (10 clients
// for `logout`; `mint` and `access` use the first); RECEIVER_PORT the first of 10 consecutive
// ports, one back-channel receiver (node:http server) per client, all in this process.
//
// `logout`: first N sign-ins, each signed into all 10 clients (code flow with PKCE, each client's
// ID token kept); then, one sign-in at a time, RP-initiated logout with the first client's ID token
// as id_token_hint and its registered post_logout_redirect_uri, and the wait until all 10
// receivers have a logout token with that sign-in's `sid` (the `sid` of that client's ID token:
// oidc-provider gives each client its own) (5 s at most: then it counts as missing).
//   - Signoff: GET /end-session → 303 (the sign-in has ended; tokens go out from the outbox).
//   - peer: GET /session/end → 200, its confirmation form; POST /session/end/confirm with the
//     form's xsrf and logout=yes → 303. oidc-provider POSTs the logout tokens *before* it answers
//     (end_session.js awaits them all), so its "answer → 10th token" is ≤ 0.
// Times (one monotonic clock, this process): t0 = the logout's first request sent, tA = its final
// answer's headers received (the 303), t10 = the 10th receiver's request complete. Prints one JSON
// line: the percentiles of t10 − tA ("after"), t10 − t0 ("total") and tA − t0 ("answer"), in ms.
// With LOAD_RATE and LOAD_TOKENS, bench/oidc-load.mjs runs beside the logouts (started after the
// sign-ins are made, 1 s before the first logout), and its numbers are part of the line.
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const [mode, kind, base, clientsFile, ...rest] = process.argv.slice(2);
if (!['logout', 'mint', 'access'].includes(mode) || !['signoff', 'peer'].includes(kind)) {
  console.error('usage: oidc-flows.mjs logout|mint|access signoff|peer BASE CLIENTS …');
  process.exit(2);
}
const clients = JSON.parse(readFileSync(clientsFile, 'utf8'));
const origin = new URL(base);
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const EMAIL = 'oidc-bench@example.com';
const PASSWORD = 'oidc-bench-password-0123';
const receiverBase = Number(mode === 'logout' ? rest[0] : 0);
// Each client's registered URIs (nothing listens there: only the Location headers are read).
const cbFor = (c) => c.redirect_uri;
const byeFor = (c) => c.post_logout_redirect_uri;
const paths = kind === 'signoff'
  ? { authorize: '/authorize', token: '/oauth/token', endSession: '/end-session' }
  : { authorize: '/auth', token: '/token', endSession: '/session/end' };

// One HTTP request; resolves with status, headers, body (string) and when the headers arrived.
function request(method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url, base);
    const req = http.request(u, { method, headers, agent }, (res) => {
      const tHeaders = performance.now();
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), tHeaders }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

// A browser's cookies for one origin (name → value), kept from Set-Cookie.
class Jar {
  constructor() { this.cookies = new Map(); }
  take(res) {
    for (const line of res.headers['set-cookie'] ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (gone || value === '') this.cookies.delete(name); else this.cookies.set(name, value);
    }
    return res;
  }
  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

const form = (o) => new URLSearchParams(o).toString();
const b64url = (buf) => buf.toString('base64url');
const basic = (c) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

// A browser sign-in (Signoff: the login form; the peer signs in during its first authorization).
async function signIn() {
  const jar = new Jar();
  if (kind === 'signoff') {
    const res = jar.take(await request('POST', '/_fn/login', {
      headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: form({ email: EMAIL, password: PASSWORD }),
    }));
    if (res.status !== 303 || jar.cookies.size === 0) throw new Error(`login: ${res.status} ${res.body.slice(0, 200)}`);
  }
  return jar;
}

// The code flow for `client` in the browser `jar`: the token endpoint's answer.
async function codeFlow(jar, client) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  let url = `${paths.authorize}?${form({
    response_type: 'code', client_id: client.client_id, redirect_uri: cbFor(client), scope: 'openid',
    state: b64url(randomBytes(8)), nonce: b64url(randomBytes(8)), code_challenge: challenge, code_challenge_method: 'S256',
  })}`;
  let code;
  for (let hop = 0; hop < 10 && !code; hop++) {
    const res = jar.take(await request('GET', url, { headers: { cookie: jar.header() } }));
    const loc = res.headers.location;
    if (res.status < 300 || res.status > 399 || !loc) throw new Error(`authorize: ${res.status} at ${url}: ${res.body.slice(0, 300)}`);
    if (loc.startsWith(cbFor(client))) {
      const q = new URL(loc).searchParams;
      if (!q.get('code')) throw new Error(`authorize: back without a code: ${loc}`);
      code = q.get('code');
    } else {
      const next = new URL(loc, new URL(url, base));
      if (next.origin !== origin.origin) throw new Error(`authorize: sent away to ${loc}`);
      url = next.pathname + next.search;
    }
  }
  const res = await request('POST', paths.token, {
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: cbFor(client), code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body);
}

// Signoff: the benchmark's account (a 409 or the like when it exists already is fine).
async function ensureAccount() {
  if (kind !== 'signoff') return;
  await request('POST', '/api/v1/account/register', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] : null;
const summary = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v) => (v === null ? null : Math.round(v * 100) / 100);
  return { p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1] ?? null) };
};

async function logout() {
  const n = Number(rest[1] ?? 200);
  const loadRate = Number(rest[2] ?? 0);
  const loadTokens = rest[3];
  if (clients.length < 10) throw new Error('logout needs 10 clients');
  // The receivers: one server per client, each on its own port.
  const waiters = new Map(); // sid → { auds: Set, resolve }
  const seen = new Map(); // `${sid} ${aud}` → count
  let stray = 0;
  const servers = await Promise.all(clients.slice(0, 10).map((_, i) => new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const t = performance.now();
        res.writeHead(200, { 'content-length': 0 }).end();
        try {
          const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token');
          const c = claims(token);
          const aud = Array.isArray(c.aud) ? c.aud[0] : c.aud;
          const key = `${c.sid} ${aud}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          const w = waiters.get(c.sid);
          if (!w) { stray++; return; }
          w.auds.add(aud);
          if (w.auds.size === 10) { w.t10 = t; w.resolve(); }
        } catch { stray++; }
      });
    });
    server.keepAliveTimeout = 60_000;
    server.on('error', reject);
    server.listen(receiverBase + i, '127.0.0.1', () => resolve(server));
  })));

  await ensureAccount();
  const signins = [];
  const setupStart = performance.now();
  for (let k = 0; k < n; k++) {
    const jar = await signIn();
    const ids = [];
    for (const c of clients.slice(0, 10)) ids.push((await codeFlow(jar, c)).id_token);
    // Signoff's sid is the sign-in's, the same for every client; oidc-provider's is per client.
    const sids = [...new Set(ids.map((t) => claims(t).sid))];
    if (sids.some((x) => !x)) throw new Error('an ID token carries no sid');
    signins.push({ jar, hint: ids[0], sids });
  }
  const setupSecs = (performance.now() - setupStart) / 1000;

  let load;
  if (loadRate > 0) {
    const script = fileURLToPath(new URL('./oidc-load.mjs', import.meta.url));
    load = spawn(process.execPath, [script, base, loadTokens, String(loadRate)], { stdio: ['ignore', 'pipe', 'inherit'] });
    load.out = '';
    load.stdout.on('data', (d) => { load.out += d; });
    load.done = new Promise((resolve) => load.on('exit', resolve));
    await new Promise((r) => setTimeout(r, 1000));
  }

  const after = [], total = [], answer = [];
  let missing = 0, failed = 0;
  const logoutStart = performance.now();
  const client0 = clients[0];
  for (const s of signins) {
    const w = { auds: new Set() };
    const arrived = new Promise((resolve) => { w.resolve = resolve; });
    for (const sid of s.sids) waiters.set(sid, w);
    const t0 = performance.now();
    let final;
    const query = form({ id_token_hint: s.hint, post_logout_redirect_uri: byeFor(client0), state: 'bye' });
    if (kind === 'signoff') {
      final = s.jar.take(await request('GET', `${paths.endSession}?${query}`, { headers: { cookie: s.jar.header() } }));
    } else {
      const page = s.jar.take(await request('GET', `${paths.endSession}?${query}`, { headers: { cookie: s.jar.header() } }));
      const xsrf = page.body.match(/name="xsrf" value="([^"]+)"/)?.[1];
      if (page.status !== 200 || !xsrf) throw new Error(`end_session: ${page.status} ${page.body.slice(0, 300)}`);
      final = s.jar.take(await request('POST', `${paths.endSession}/confirm`, {
        headers: { cookie: s.jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
        body: form({ xsrf, logout: 'yes' }),
      }));
    }
    const tA = final.tHeaders;
    if (final.status !== 303 || !String(final.headers.location).startsWith(byeFor(client0))) {
      failed++;
      console.error(`logout answered ${final.status} → ${final.headers.location}`);
    }
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000));
    const late = (await Promise.race([arrived, timeout])) === 'timeout';
    for (const sid of s.sids) waiters.delete(sid);
    if (late) { missing++; continue; }
    after.push(w.t10 - tA);
    total.push(w.t10 - t0);
    answer.push(tA - t0);
  }

  const logoutSecs = (performance.now() - logoutStart) / 1000;
  let loadStats = null;
  if (load) {
    load.kill('SIGTERM');
    await load.done;
    try { loadStats = JSON.parse(load.out.trim().split('\n').pop()); } catch { loadStats = { error: load.out }; }
  }
  // Late duplicates (a retried token) would show here.
  await new Promise((r) => setTimeout(r, 200));
  const duplicates = [...seen.values()].filter((v) => v > 1).length;
  for (const s of servers) { s.close(); s.closeAllConnections(); }
  agent.destroy();
  console.log(JSON.stringify({
    kind, n, measured: after.length, missing, failed, duplicates, stray, setup_s: Math.round(setupSecs * 10) / 10,
    logout_s: Math.round(logoutSecs * 10) / 10,
    after_ms: summary(after), total_ms: summary(total), answer_ms: summary(answer), load: loadStats,
  }));
}

async function mint() {
  const count = Number(rest[0] ?? 100);
  await ensureAccount();
  const client = clients[0];
  const out = [];
  // A handful of sign-ins, many grants each (as many applications' sessions would be): 16 grants
  // per sign-in, or MINT_PER_SIGNIN.
  const perSignin = Number(process.env.MINT_PER_SIGNIN ?? 16);
  let jar;
  for (let k = 0; k < count; k++) {
    if (k % perSignin === 0) jar = await signIn();
    out.push((await codeFlow(jar, client)).refresh_token);
  }
  process.stdout.write(out.join('\n') + '\n');
  agent.destroy();
}

async function access() {
  await ensureAccount();
  const jar = await signIn();
  process.stdout.write((await codeFlow(jar, clients[0])).access_token + '\n');
  agent.destroy();
}

await { logout, mint, access }[mode]();
process.exit(0);
