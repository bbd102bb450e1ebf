// Background load for bench/oidc.sh: seed 002 logouts (`DELETE /api/v1/logout`, one fresh opaque
// token each, minted beforehand by signoff-bench) at a steady RATE per second, open loop (sent on
// schedule whether or not earlier ones have been answered, at most 256 in flight), until SIGTERM or
// the tokens run out, then waits for the answers in flight (5 s at most). Then prints one JSON line:
// what was sent and answered (and left unanswered), the achieved rate (2xx answers ÷ the time spent
// sending), the answers' p50/p99 in ms, and whether it ran out of tokens or fell behind (in-flight
// cap reached).
// BASE may name several instances, comma-separated: the logouts go to each in turn.
//
//   node bench/oidc-load.mjs BASE[,BASE…] TOKENS_FILE RATE
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [base, file, rateArg] = process.argv.slice(2);
const rate = Number(rateArg);
const bases = base.split(',');
const tokens = readFileSync(file, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const MAX_IN_FLIGHT = 256;
let next = 0, sent = 0, ok = 0, non2xx = 0, errors = 0, inFlight = 0, behind = 0;
const latencies = [];
const start = performance.now();
let stopped = false;

function send() {
  const token = tokens[next++];
  sent++;
  inFlight++;
  const t0 = performance.now();
  const req = http.request(new URL('/api/v1/logout', bases[sent % bases.length]), {
    method: 'DELETE', agent, headers: { authorization: `Bearer ${token}` },
  }, (res) => {
    res.resume();
    res.on('end', () => {
      inFlight--;
      latencies.push(performance.now() - t0);
      if (res.statusCode >= 200 && res.statusCode < 300) ok++; else non2xx++;
    });
  });
  req.on('error', () => { inFlight--; errors++; });
  req.end();
}

// Every 5 ms, catch up with the schedule (start + sent / rate).
const timer = setInterval(() => {
  const due = Math.floor(((performance.now() - start) / 1000) * rate);
  while (sent < due && !stopped) {
    if (next >= tokens.length) { finish('tokens'); return; }
    if (inFlight >= MAX_IN_FLIGHT) { behind++; break; }
    send();
  }
}, 5);

// Stops sending, then waits (up to 5 s) for the answers still in flight before it reports.
async function finish(why) {
  if (stopped) return;
  stopped = true;
  clearInterval(timer);
  const secs = (performance.now() - start) / 1000;
  for (let waited = 0; inFlight > 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  const s = latencies.sort((a, b) => a - b);
  const at = (p) => (s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] * 100) / 100 : null);
  process.stdout.write(JSON.stringify({
    target_rate: rate, seconds: Math.round(secs * 10) / 10, sent, ok, non2xx, errors, unanswered: inFlight,
    rate: Math.round(ok / secs), p50_ms: at(50), p99_ms: at(99), stopped_by: why, fell_behind: behind > 0,
  }) + '\n');
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => finish('signal'));
