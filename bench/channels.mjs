// The measuring side of bench/channels.sh (issue 28, "logout → every channel told"). Node's
// standard library only; talks only to 127.0.0.1.
//
//   node bench/channels.mjs A_BASE B_BASE CLIENTS RECEIVER_PORT WEBHOOK_PORT WEBHOOK_SECRET N \
//        [LOAD_RATE LOAD_TOKENS]
//
// A and B are two Signoff instances on one PostgreSQL database. CLIENTS is a JSON file
// [{"client_id", "client_secret", "redirect_uri"}, …] of OpenID clients registered with a
// back-channel receiver each, at RECEIVER_PORT, +1, … (one node:http server per client, here).
// WEBHOOK_PORT is the receiver both instances send `session.ended` to (SIGNOFF_WEBHOOK_URLS),
// signed with WEBHOOK_SECRET (`whsec_…`).
//
// First N browser sign-ins on A (the login form), each authorizing every client (code flow with
// PKCE, the first client's access token kept). Then, with LOAD_RATE > 0, bench/oidc-load.mjs starts
// seed 002 logouts at LOAD_RATE/s spread over A and B (tokens from LOAD_TOKENS), and after 1 s of
// load alone, one sign-in at a time:
//   - opens its /events stream on A and on B (its session cookie; waits for the `connected`
//     comment), then, at t0, just before the logout request is sent:
//   - POST /_fn/logout on A (the **Log out** button, its cookie) → 303;
//   - from t0, polls B's /oauth/userinfo with the first client's access token (one keep-alive
//     connection, one request after the other) until B answers 401;
// and records, from t0, when each channel was told: B refusing the token (a), the `signed-out`
// event on A's and on B's stream (b), the webhook receiver's `session.ended` for that sign-in
// (c, its Standard Webhooks signature checked), each back-channel receiver's logout token with
// that sign-in's `sid` (d), and the last of them all (e). A channel not told within 5 s counts as
// missing for that sign-in (and the sign-in has no "all told" time).
// Prints one JSON line: per channel p50/p99/max in ms and how many were told or missing, the
// logout's answer, the poll interval, the background load's own numbers.
import http from 'node:http';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const [aBase, bBase, clientsFile, recvArg, hookArg, hookSecret, nArg, rateArg, loadTokens] = process.argv.slice(2);
if (!aBase || !bBase || !clientsFile || !recvArg || !hookArg || !hookSecret) {
  console.error('usage: channels.mjs A_BASE B_BASE CLIENTS RECEIVER_PORT WEBHOOK_PORT WEBHOOK_SECRET N [LOAD_RATE LOAD_TOKENS]');
  process.exit(2);
}
const clients = JSON.parse(readFileSync(clientsFile, 'utf8'));
const N = Number(nArg ?? 200);
const loadRate = Number(rateArg ?? 0);
const receiverBase = Number(recvArg);
const hookKey = Buffer.from(hookSecret.replace(/^whsec_/, ''), 'base64');
const EMAIL = 'channels-bench@example.com';
const PASSWORD = 'channels-bench-password-0123';
const TIMEOUT_MS = 5000;
// One connection pool for the set-up and the logouts, one for B's polling, none for the streams
// (each its own socket, closed after the sample).
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, url, { headers = {}, body, via = agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(url), { method, headers, agent: via }, (res) => {
      const tHeaders = performance.now();
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), tHeaders }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

// A browser's cookies (name → value), kept from Set-Cookie; as in bench/oidc-flows.mjs.
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
const browserPost = { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

async function signIn() {
  const jar = new Jar();
  const res = jar.take(await request('POST', `${aBase}/_fn/login`, { headers: browserPost, body: form({ email: EMAIL, password: PASSWORD }) }));
  if (res.status !== 303 || jar.cookies.size === 0) throw new Error(`login: ${res.status} ${res.body.slice(0, 200)}`);
  return jar;
}

// The code flow for `client` in the signed-in browser `jar`, on A: the token endpoint's answer.
async function codeFlow(jar, client) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const query = form({
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uri, scope: 'openid email',
    state: b64url(randomBytes(8)), nonce: b64url(randomBytes(8)), code_challenge: challenge, code_challenge_method: 'S256',
  });
  let url = `${aBase}/authorize?${query}`;
  let code;
  for (let hop = 0; hop < 10 && !code; hop++) {
    const res = jar.take(await request('GET', url, { headers: { cookie: jar.header() } }));
    const loc = res.headers.location;
    if (res.status < 300 || res.status > 399 || !loc) throw new Error(`authorize: ${res.status}: ${res.body.slice(0, 300)}`);
    if (loc.startsWith(client.redirect_uri)) code = new URL(loc).searchParams.get('code');
    else url = new URL(loc, url).toString();
  }
  if (!code) throw new Error('authorize: no code');
  const res = await request('POST', `${aBase}/oauth/token`, {
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: form({ grant_type: 'authorization_code', code, redirect_uri: client.redirect_uri, code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body);
}

// B's answer to userinfo with `token`: the status and when it arrived.
async function userinfo(token) {
  const res = await request('GET', `${bBase}/oauth/userinfo`, { headers: { authorization: `Bearer ${token}` }, via: pollAgent });
  return res;
}

// An open /events stream of the browser `jar` on `base`. Resolves once the server said
// `connected`; `told` resolves with the time the `signed-out` event arrived.
function openStream(base, jar) {
  return new Promise((resolve, reject) => {
    const s = {};
    s.told = new Promise((r) => { s.tell = r; });
    const req = http.request(new URL('/events', base), { headers: { cookie: jar.header(), accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`/events on ${base}: ${res.statusCode}`)); res.resume(); return; }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        const t = performance.now();
        text += d;
        if (!s.connected && text.includes(': connected')) { s.connected = true; resolve(s); }
        if (/event: ?signed-out/.test(text)) s.tell(t);
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => (s.connected ? undefined : reject(e)));
    req.end();
    s.close = () => req.destroy();
  });
}

const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] : null;
const summary = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v) => (v === null ? null : Math.round(v * 100) / 100);
  return { n: s.length, p50: r(pct(s, 50)), p99: r(pct(s, 99)), max: r(s[s.length - 1] ?? null) };
};

// ---- Receivers: the webhook, and one back-channel receiver per client ----
const waiting = new Map(); // sid → { told: Map(channel → time), check() }
let hookEvents = 0, hookBad = 0, tokensStray = 0;
const listen = (port, handler) => new Promise((resolve, reject) => {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const t = performance.now();
      res.writeHead(200, { 'content-length': 0 }).end();
      try { handler(req, Buffer.concat(chunks).toString(), t); } catch { /* counted by the handler */ }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('error', reject);
  server.listen(port, '127.0.0.1', () => resolve(server));
});
const tell = (sid, channel, t) => {
  const w = waiting.get(sid);
  if (!w || w.told.has(channel)) return false;
  w.told.set(channel, t);
  w.check();
  return true;
};
const servers = [];
servers.push(await listen(Number(hookArg), (req, body, t) => {
  hookEvents++;
  const event = JSON.parse(body);
  const sid = event?.data?.signin_id;
  if (event.type !== 'session.ended' || !waiting.has(sid)) return;
  // The sampled sign-ins' events are checked as a receiver would: the signature over id.timestamp.body.
  const id = req.headers['webhook-id'];
  const ts = req.headers['webhook-timestamp'];
  const mac = createHmac('sha256', hookKey).update(`${id}.${ts}.${body}`).digest('base64');
  if (!String(req.headers['webhook-signature'] ?? '').split(' ').includes(`v1,${mac}`)) { hookBad++; return; }
  tell(sid, 'webhook', t);
}));
for (const [i, c] of clients.entries()) {
  servers.push(await listen(receiverBase + i, (req, body, t) => {
    const c2 = claims(new URLSearchParams(body).get('logout_token'));
    const aud = Array.isArray(c2.aud) ? c2.aud[0] : c2.aud;
    if (aud !== c.client_id || !tell(c2.sid, `backchannel ${i + 1}`, t)) tokensStray++;
  }));
}

// ---- Sign-ins ----
await request('POST', `${aBase}/api/v1/account/register`, {
  headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
});
const signins = [];
const setupStart = performance.now();
for (let k = 0; k < N; k++) {
  const jar = await signIn();
  let access, sid;
  for (const c of clients) {
    const t = await codeFlow(jar, c);
    access ??= t.access_token;
    const s = claims(t.id_token).sid;
    if (!s || (sid && s !== sid)) throw new Error('the ID tokens of one sign-in carry different sids');
    sid = s;
  }
  signins.push({ jar, access, sid });
}
const setupSecs = (performance.now() - setupStart) / 1000;
{
  const first = await userinfo(signins[0].access);
  if (first.status !== 200) throw new Error(`B does not accept a live access token: ${first.status} ${first.body.slice(0, 200)}`);
}

// ---- The background load ----
let load;
if (loadRate > 0) {
  const script = fileURLToPath(new URL('./oidc-load.mjs', import.meta.url));
  load = spawn(process.execPath, [script, `${aBase},${bBase}`, loadTokens, String(loadRate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  load.out = '';
  load.stdout.on('data', (d) => { load.out += d; });
  load.done = new Promise((resolve) => load.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 1000));
}

// ---- The sampled logouts ----
const CHANNELS = ['B refuses', 'events A', 'events B', 'webhook', ...clients.map((_, i) => `backchannel ${i + 1}`)];
const times = Object.fromEntries(CHANNELS.map((c) => [c, []]));
const missing = Object.fromEntries(CHANNELS.map((c) => [c, 0]));
const lastBackchannel = [], allTold = [], answer = [];
let badAnswers = 0, polls = 0, pollSpan = 0;
const sampleStart = performance.now();
for (const s of signins) {
  const streams = [await openStream(aBase, s.jar), await openStream(bBase, s.jar)];
  const w = { told: new Map() };
  const all = new Promise((resolve) => { w.check = () => { if (w.told.size === CHANNELS.length) resolve(); }; });
  waiting.set(s.sid, w);
  streams[0].told.then((t) => tell(s.sid, 'events A', t));
  streams[1].told.then((t) => tell(s.sid, 'events B', t));
  const t0 = performance.now();
  // B, polled from t0 until it refuses the token.
  const polling = (async () => {
    let n = 0;
    while (performance.now() - t0 < TIMEOUT_MS) {
      const res = await userinfo(s.access);
      n++;
      if (res.status === 401) { tell(s.sid, 'B refuses', res.tHeaders); break; }
    }
    polls += n;
    pollSpan += performance.now() - t0;
  })();
  const res = s.jar.take(await request('POST', `${aBase}/_fn/logout`, { headers: { ...browserPost, cookie: s.jar.header() }, body: '' }));
  if (res.status !== 303) { badAnswers++; console.error(`logout answered ${res.status}`); }
  answer.push(res.tHeaders - t0);
  let timer;
  await Promise.race([all, new Promise((r) => { timer = setTimeout(r, TIMEOUT_MS); })]);
  clearTimeout(timer);
  await polling;
  waiting.delete(s.sid);
  for (const st of streams) st.close();
  for (const c of CHANNELS) {
    if (w.told.has(c)) times[c].push(w.told.get(c) - t0); else missing[c]++;
  }
  const bc = CHANNELS.filter((c) => c.startsWith('backchannel'));
  if (bc.every((c) => w.told.has(c))) lastBackchannel.push(Math.max(...bc.map((c) => w.told.get(c))) - t0);
  if (w.told.size === CHANNELS.length) allTold.push(Math.max(...w.told.values()) - t0);
}
const sampleSecs = (performance.now() - sampleStart) / 1000;

let loadStats = null;
if (load) {
  load.kill('SIGTERM');
  await load.done;
  try { loadStats = JSON.parse(load.out.trim().split('\n').pop()); } catch { loadStats = { error: load.out }; }
}
await new Promise((r) => setTimeout(r, 200));
for (const sv of servers) { sv.close(); sv.closeAllConnections(); }
agent.destroy();
pollAgent.destroy();
console.log(JSON.stringify({
  n: N, clients: clients.length, setup_s: Math.round(setupSecs * 10) / 10, sample_s: Math.round(sampleSecs * 10) / 10,
  answer_ms: summary(answer), bad_answers: badAnswers,
  channels: Object.fromEntries(CHANNELS.map((c) => [c, { ...summary(times[c]), missing: missing[c] }])),
  last_backchannel_ms: summary(lastBackchannel), all_told_ms: summary(allTold),
  poll_interval_ms: polls ? Math.round((pollSpan / polls) * 1000) / 1000 : null,
  webhook_events: hookEvents, webhook_bad_signatures: hookBad, stray_logout_tokens: tokensStray,
  load: loadStats,
}));
process.exit(0);
