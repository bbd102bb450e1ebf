// The client side of bench/events.sh: many open pages on `/events`, then "Log out everywhere" for
// every account, and how long each open page took to hear it. Node's standard library only; talks
// only to 127.0.0.1.
//
//   node bench/events-load.mjs BASE SERVER_PID USERS SIGNINS_PER_USER STREAMS_PER_SIGNIN TIMEOUT_S LABEL [METRICS_URL]
//
// 1. USERS accounts (`POST /api/v1/account/register`), each signed in SIGNINS_PER_USER times
//    through the login form server function (`POST /_fn/login`, as a browser without JavaScript:
//    accept, sec-fetch-site, a form body); each sign-in is one browser (its own cookie jar).
// 2. STREAMS_PER_SIGNIN `GET /events` per sign-in (one per tab), each on its own connection, each
//    counted open once its `200` and its first event (the `: connected` comment) have arrived. The
//    server's resident memory (VmRSS of SERVER_PID in /proc, once settled: see settledRss) is read
//    before the first stream, when half are open and when all are: memory per stream = the growth
//    over the streams opened (and over the second half alone, clear of first-use effects).
// 3. For each account, from its first sign-in's browser, "Log out everywhere" (`POST
//    /_fn/logout_everywhere` with that browser's session cookie, what the button on /sessions
//    posts): all accounts' requests issued at once. For each stream, the time from its account's
//    logout request being issued to its `event: signed-out` (reason `logout_global`) arriving, and
//    to the server closing it. A stream that has heard nothing TIMEOUT_S after the last logout was
//    issued is "never told".
// Times are one monotonic clock (performance.now) in this process. Prints a Markdown report on
// standard output (progress on standard error) and exits 0 when every stream was told within 2 s,
// 1 otherwise.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [base, pidArg, usersArg, perUserArg, tabsArg, timeoutArg, label, metricsUrl] = process.argv.slice(2);
if (!base || !pidArg || !label) {
  console.error('usage: events-load.mjs BASE SERVER_PID USERS SIGNINS_PER_USER STREAMS_PER_SIGNIN TIMEOUT_S LABEL [METRICS_URL]');
  process.exit(2);
}
const PID = Number(pidArg);
const USERS = Number(usersArg);
const PER_USER = Number(perUserArg);
const TABS = Number(tabsArg);
const TIMEOUT_MS = Number(timeoutArg) * 1000;
const TARGET_MS = 2000;
const PASSWORD = 'events-bench-password-0123';
const FORM_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const email = (u) => `events-bench-${u}@example.com`;
// Set-up requests share a few kept-alive connections; streams and logouts each get their own.
const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const log = (...a) => console.error('events:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One request; resolves with status, headers and body (string).
function request(method, url, { headers = {}, body, agent = setupAgent } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(url, base), { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// Runs fn over items, at most `width` at a time.
async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

// The server's resident memory, KiB.
const rss = () => Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${PID}/status`, 'utf8'))[1]);
// The server's resident memory once it has settled: sampled every second, at least `minMs` in all,
// until five samples in a row lie within 256 KiB (a minute at most). Right after the sign-ins the
// server still holds the password hasher's memory (19 MiB per argon2 hash; a smoke run read 149 MiB
// there, 53 MiB a few seconds later), most likely until the blocking pool's threads, idle for 10 s,
// exit: the reading before the streams waits at least that long.
async function settledRss(minMs) {
  const start = performance.now();
  const seen = [];
  for (;;) {
    seen.push(rss());
    const last = seen.slice(-5);
    const waited = performance.now() - start;
    if ((waited >= minMs && last.length === 5 && Math.max(...last) - Math.min(...last) <= 256) || waited > 60_000) return seen[seen.length - 1];
    await sleep(1000);
  }
}
// The server's own count of open streams (its Prometheus gauge), when a metrics listener was given.
async function gauge() {
  if (!metricsUrl) return null;
  const res = await request('GET', metricsUrl, { agent: false });
  const m = /^signoff_event_streams\s+(\S+)/m.exec(res.body);
  return m ? Number(m[1]) : null;
}

// The session cookie (`name=value; …`) from a login's Set-Cookie, every cookie kept as a browser does.
const cookiesOf = (res) => (res.headers['set-cookie'] ?? [])
  .map((line) => line.split(';')[0].trim())
  .filter((pair) => pair.slice(pair.indexOf('=') + 1) !== '');

// Registration and sign-in hash passwords (argon2, a bounded queue): a busy answer is retried.
async function register(u) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await request('POST', '/api/v1/account/register', {
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ email: email(u), password: PASSWORD }),
    });
    if (res.status === 201 || res.status === 409) return;
    if (res.status !== 429 && res.status !== 503) throw new Error(`register ${email(u)}: ${res.status} ${res.body.slice(0, 200)}`);
    await sleep(100);
  }
  throw new Error(`register ${email(u)}: still refused`);
}

async function signIn(u) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const res = await request('POST', '/_fn/login', {
      headers: { accept: FORM_ACCEPT, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: new URLSearchParams({ email: email(u), password: PASSWORD }).toString(),
    });
    const cookies = cookiesOf(res);
    if (res.status === 303 && res.headers.location === '/' && cookies.some((c) => c.startsWith('signoff_session=') || c.startsWith('__Host-signoff_session='))) {
      return cookies.join('; ');
    }
    // A full hashing queue comes back as the login page with an error; anything else is a failure.
    if (res.status !== 303 || !/error=/.test(res.headers.location ?? '')) throw new Error(`login ${email(u)}: ${res.status} ${res.headers.location ?? ''} ${res.body.slice(0, 200)}`);
    await sleep(100);
  }
  throw new Error(`login ${email(u)}: still refused`);
}

// One open page's stream. Resolves once it is open (200 and the first event) or refused.
function openStream(signin) {
  return new Promise((resolve) => {
    const s = { signin, status: 0, text: '', tEvent: null, tClose: null, reason: null, error: null, open: false };
    let settled = false;
    const settle = () => { if (!settled) { settled = true; resolve(s); } };
    const req = http.request(new URL('/events', base), {
      method: 'GET', agent: false, headers: { accept: 'text/event-stream', cookie: signin.cookie },
    }, (res) => {
      s.status = res.statusCode;
      if (res.statusCode !== 200) { res.resume(); res.on('end', settle); return; }
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const now = performance.now();
        s.text += chunk;
        if (!s.open && s.text.includes('\n\n')) { s.open = true; settle(); }
        if (s.tEvent === null) {
          const m = /event: signed-out\ndata: (.*)\n\n/.exec(s.text);
          if (m) {
            s.tEvent = now;
            try { s.reason = JSON.parse(m[1]).reason; } catch { s.reason = m[1]; }
          }
        }
        // Keep only the unparsed tail (heartbeats would otherwise pile up).
        if (s.open && s.tEvent === null) s.text = s.text.slice(Math.max(0, s.text.lastIndexOf('\n\n') + 2));
      });
      res.on('end', () => { s.tClose = performance.now(); settle(); s.onDone?.(); });
      res.on('error', (e) => { s.error = e.message; s.tClose ??= performance.now(); settle(); s.onDone?.(); });
    });
    req.on('error', (e) => { s.error = e.message; s.tClose ??= performance.now(); settle(); s.onDone?.(); });
    req.end();
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : null);
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.length ? s[s.length - 1] : null };
};
const ms = (v) => (v === null || v === undefined ? '–' : v.toFixed(1));
const mib = (kib) => (kib / 1024).toFixed(1);

async function main() {
  const t0 = performance.now();
  // ---- 1. Accounts and sign-ins ----
  log(`registering ${USERS} accounts`);
  const users = Array.from({ length: USERS }, (_, u) => u);
  await pool(users, 4, register);
  log(`signing in ${USERS * PER_USER} browsers (${PER_USER} per account)`);
  const signins = users.flatMap((u) => Array.from({ length: PER_USER }, (_, k) => ({ user: u, k, cookie: '' })));
  await pool(signins, 8, async (s) => { s.cookie = await signIn(s.user); });
  const setupSecs = (performance.now() - t0) / 1000;
  setupAgent.destroy();

  // ---- 2. The streams, and the server's memory ----
  const wanted = signins.flatMap((s) => Array.from({ length: TABS }, () => s));
  const half = Math.floor(wanted.length / 2);
  await gauge();
  const rssBefore = await settledRss(12_000);
  log(`server RSS ${mib(rssBefore)} MiB; opening ${wanted.length} streams (${TABS} per sign-in)`);
  const tOpen = performance.now();
  const first = await pool(wanted.slice(0, half), 64, openStream);
  const rssHalf = await settledRss(0);
  const second = await pool(wanted.slice(half), 64, openStream);
  const openSecs = (performance.now() - tOpen) / 1000;
  const rssAll = await settledRss(0);
  const streams = [...first, ...second];
  const open = streams.filter((s) => s.open && s.tClose === null);
  const closedEarly = streams.filter((s) => s.open && s.tClose !== null).length;
  const openFirst = first.filter((s) => s.open).length;
  const openSecond = second.filter((s) => s.open).length;
  const refused = streams.filter((s) => !s.open);
  const refusedBy = {};
  for (const s of refused) {
    const k = s.error ? `error ${s.error}` : String(s.status);
    refusedBy[k] = (refusedBy[k] ?? 0) + 1;
  }
  const serverCount = await gauge();
  log(`${open.length} streams open in ${openSecs.toFixed(1)} s (server counts ${serverCount ?? 'n/a'}); RSS ${mib(rssHalf)} MiB at half, ${mib(rssAll)} MiB at all`);

  // ---- 3. Log out everywhere, every account at once ----
  const everywhere = users.map((u) => ({ user: u, cookie: signins.find((s) => s.user === u && s.k === 0).cookie, sent: null, answered: null, status: null, location: null, error: null }));
  const pending = new Set(open);
  let allDone;
  const done = new Promise((r) => { allDone = r; });
  for (const s of open) {
    s.onDone = () => { pending.delete(s); if (pending.size === 0) allDone(); };
    if (s.tClose !== null) s.onDone();
  }
  if (open.length === 0) allDone();
  log(`sending ${everywhere.length} "Log out everywhere" requests at once`);
  const answers = everywhere.map((l) => new Promise((resolve) => {
    l.sent = performance.now();
    const req = http.request(new URL('/_fn/logout_everywhere', base), {
      method: 'POST', agent: false,
      headers: { accept: FORM_ACCEPT, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', cookie: l.cookie, 'content-length': 0 },
    }, (res) => {
      l.answered = performance.now();
      l.status = res.statusCode;
      l.location = res.headers.location ?? null;
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', (e) => { l.error = e.message; resolve(); });
    req.end();
  }));
  const lastSent = Math.max(...everywhere.map((l) => l.sent));
  const firstSent = Math.min(...everywhere.map((l) => l.sent));
  await Promise.all(answers);
  await Promise.race([done, sleep(Math.max(0, lastSent + TIMEOUT_MS - performance.now()))]);
  await sleep(1000);
  const rssAfter = await settledRss(0);
  const serverAfter = await gauge();

  // ---- Report ----
  const sentOf = new Map(everywhere.map((l) => [l.user, l.sent]));
  const told = [];
  const closed = [];
  let wrongReason = 0;
  let closedUntold = 0;
  let neverTold = 0;
  let errors = 0;
  for (const s of open) {
    const sent = sentOf.get(s.signin.user);
    if (s.tEvent !== null) {
      told.push(s.tEvent - sent);
      if (s.reason !== 'logout_global') wrongReason++;
    } else if (s.tClose !== null) {
      closedUntold++;
    } else {
      neverTold++;
    }
    if (s.tClose !== null) closed.push(s.tClose - sent);
    if (s.error) errors++;
  }
  const t = stats(told);
  const c = stats(closed);
  const within = told.filter((x) => x <= TARGET_MS).length;
  const answered = everywhere.filter((l) => l.status === 303 && (l.location ?? '').startsWith('/login?logged_out=1'));
  const a = stats(answered.map((l) => l.answered - l.sent));
  const badAnswers = everywhere.length - answered.length;
  const opened = openFirst + openSecond;
  const perStream = opened ? ((rssAll - rssBefore) * 1024) / opened : null;
  const perStreamSecond = openSecond ? ((rssAll - rssHalf) * 1024) / openSecond : null;
  const met = open.length === wanted.length && within === open.length && badAnswers === 0;

  const out = [];
  out.push(`#### ${label}: ${wanted.length} streams across ${signins.length} sign-ins (${USERS} accounts × ${PER_USER} sign-in${PER_USER > 1 ? 's' : ''} × ${TABS} streams), "Log out everywhere" for every account`);
  out.push('');
  out.push(`Times in ms from the account's \`POST /_fn/logout_everywhere\` being issued (all ${everywhere.length} issued within ${ms(lastSent - firstSent)} ms) to each stream's \`signed-out\` event (*told*) and to the server closing it (*closed*); *answer*: the logout's own 303.`);
  out.push('');
  out.push('| streams open | told p50 | told p99 | told max | told ≤ 2 s | told > 2 s | never told | closed p50 | closed p99 | closed max | answer p50 | answer p99 | answer max | logouts 303 |');
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  out.push(`| ${open.length} of ${wanted.length} | ${ms(t.p50)} | ${ms(t.p99)} | ${ms(t.max)} | ${within} | ${told.length - within} | ${neverTold + closedUntold} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(c.max)} | ${ms(a.p50)} | ${ms(a.p99)} | ${ms(a.max)} | ${answered.length} of ${everywhere.length} |`);
  out.push('');
  out.push('| server RSS before | half open | all open | per stream (all) | per stream (second half) | after the logouts |');
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  out.push(`| ${mib(rssBefore)} MiB | ${mib(rssHalf)} MiB | ${mib(rssAll)} MiB | ${perStream === null ? '–' : (perStream / 1024).toFixed(1) + ' KiB'} | ${perStreamSecond === null ? '–' : (perStreamSecond / 1024).toFixed(1) + ' KiB'} | ${mib(rssAfter)} MiB |`);
  out.push('');
  const notes = [];
  notes.push(`set-up: ${USERS} accounts registered and ${signins.length} sign-ins made in ${setupSecs.toFixed(1)} s; ${opened} streams opened in ${openSecs.toFixed(1)} s (64 at a time)`);
  if (serverCount !== null) notes.push(`the server's own gauge (\`signoff_event_streams\`): ${serverCount} open before the logouts, ${serverAfter} after`);
  if (closedEarly) notes.push(`${closedEarly} streams closed before the logouts were sent`);
  if (refused.length) notes.push(`not opened: ${Object.entries(refusedBy).map(([k, v]) => `${v} × ${k}`).join(', ')}`);
  if (closedUntold) notes.push(`${closedUntold} streams closed without a \`signed-out\` event`);
  if (neverTold) notes.push(`${neverTold} streams heard nothing within ${TIMEOUT_MS / 1000} s of the last logout`);
  if (wrongReason) notes.push(`${wrongReason} events carried a reason other than \`logout_global\``);
  if (errors) notes.push(`${errors} streams ended with a connection error`);
  if (badAnswers) notes.push(`${badAnswers} logouts not answered 303 → /login?logged_out=1: ${everywhere.filter((l) => !answered.includes(l)).slice(0, 3).map((l) => l.error ?? `${l.status} ${l.location}`).join('; ')}`);
  for (const n of notes) out.push(`- ${n}`);
  out.push(`- target "every stream told within 2 s": **${met ? 'met' : 'missed'}** (${within} of ${wanted.length} streams told within 2 s; slowest ${ms(t.max)} ms)`);
  console.log(out.join('\n'));
  // Let the sockets go before exiting.
  process.exitCode = met ? 0 : 1;
  setTimeout(() => process.exit(), 100).unref();
}

main().catch((e) => { console.error(e); process.exit(2); });
