#!/usr/bin/env bash
# Issue 28, "logout → every channel told": how long after a logout every place that must hear of it
# has heard, p50/p99 over N sampled logouts, while a background load of seed 002 logouts runs
# (BENCH_CH_LOAD_RATE/s, open loop, bench/oidc-load.mjs, spread over both instances).
#
# Two Signoff instances, A and B, on one PostgreSQL database; both send `session.ended` webhooks
# to a receiver and logout tokens to BENCH_CH_CLIENTS OpenID clients' back-channel receivers (all
# in bench/channels.mjs). Each sampled sign-in is a browser sign-in on A that authorized every
# client (code flow); its logout is the **Log out** button (POST /_fn/logout on A). From just
# before that request is sent, the time until:
#   (a) instance B refuses the sign-in's OpenID access token (B's /oauth/userinfo, polled),
#   (b) the sign-in's open /events stream says `signed-out` (one stream on A, one on B),
#   (c) the webhook receiver has the signed `session.ended` event of that sign-in,
#   (d) each back-channel receiver has its logout token (the sign-in's `sid`),
#   (e) the last of them all.
# Prints a Markdown table (p50/p99/max per channel, missing after 5 s) and the load's numbers.
#
#   SIGNOFF_BIN=/tmp/rel/signoff SIGNOFF_SITE=/tmp/rel/site SIGNOFF_BENCH_BIN=/tmp/rel/signoff-bench bench/channels.sh
#   … BENCH_CH_N=20 BENCH_CH_LOAD_RATE=200 bench/channels.sh     # a smoke run
#
# Environment (defaults in brackets):
#   SIGNOFF_BIN [target/release/signoff], SIGNOFF_SITE [target/site]: the server and its site root
#   SIGNOFF_BENCH_BIN [target/bench-tools/signoff-bench]: mints the background load's tokens
#   BENCH_CH_N [200]: sampled logouts; BENCH_CH_CLIENTS [3]: OpenID clients (back-channel receivers)
#   BENCH_CH_LOAD_RATE [1000]: background logouts/s (0: none)
#   BENCH_CH_LOAD_TOKENS [rate × (3 + N / 10)]: tokens minted for it, by BENCH_CH_MINTERS [4]
#     processes at once
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]: where a database is created
#     for the run (and dropped after)
#   BENCH_CH_PORT [4101]: A's port; B is +1, the webhook receiver +9, the back-channel receivers
#     +10, +11, …
#   BENCH_KEEP: keep the work directory (the servers' logs, the JSON) and say where
# Nothing is built; everything listens on 127.0.0.1 and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires (newer
# servers refuse to start without it; older ones take it as their default).
export SIGNOFF_SECURE_COOKIES=false
# The rotation itself is measured: the per-sign-in refresh limit (where the server has one) is off.
export SIGNOFF_REFRESH_PER_MINUTE=0
command -v node >/dev/null || { echo "node is needed (bench/channels.mjs)" >&2; exit 1; }
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "no PostgreSQL at 127.0.0.1:5432" >&2; exit 1; }

BIN=$(realpath -m "${SIGNOFF_BIN:-target/release/signoff}")
SITE=$(realpath -m "${SIGNOFF_SITE:-target/site}")
BENCH_BIN=$(realpath -m "${SIGNOFF_BENCH_BIN:-target/bench-tools/signoff-bench}")
N=${BENCH_CH_N:-200}
NCLIENTS=${BENCH_CH_CLIENTS:-3}
LOAD_RATE=${BENCH_CH_LOAD_RATE:-1000}
LOAD_TOKENS=${BENCH_CH_LOAD_TOKENS:-$((LOAD_RATE * (3 + N / 10)))}
MINTERS=${BENCH_CH_MINTERS:-4}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT_A=${BENCH_CH_PORT:-4101}
PORT_B=$((PORT_A + 1))
HOOK_PORT=$((PORT_A + 9))
RECV_PORT=$((PORT_A + 10))
for f in "$BIN" "$BENCH_BIN"; do [ -x "$f" ] || { echo "no executable at $f (SIGNOFF_BIN, SIGNOFF_BENCH_BIN)" >&2; exit 1; }; done
[ -d "$SITE" ] || { echo "no site root at $SITE (SIGNOFF_SITE)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
pg_db=signoff_channels_$$
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Production mode: the JWT secret and the OpenID keys' directory, shared by both instances, the
# CLI and signoff-bench, as the instances of one deployment share them. One issuer for both.
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export SIGNOFF_OIDC_KEYS=$work/oidc-keys
psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
export DATABASE_URL="${PG_ADMIN%/*}/$pg_db"
export SIGNOFF_PUBLIC_URL=http://127.0.0.1:$PORT_A
hook_secret="whsec_$(head -c 24 /dev/urandom | base64)"
a=http://127.0.0.1:$PORT_A
b=http://127.0.0.1:$PORT_B

wait_for() {
  for _ in $(seq 600); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; exit 1
}

echo "registering $NCLIENTS OpenID clients, each with a back-channel receiver" >&2
{
  echo '['
  for i in $(seq 0 $((NCLIENTS - 1))); do
    out=$(RUST_LOG=warn "$BIN" clients add --name "channels-$i" --redirect-uri "http://127.0.0.1:$RECV_PORT/cb" \
      --backchannel-logout-uri "http://127.0.0.1:$((RECV_PORT + i))/backchannel" --json)
    [ "$i" -gt 0 ] && echo ','
    echo "${out%\}},\"redirect_uri\":\"http://127.0.0.1:$RECV_PORT/cb\"}"
  done
  echo ']'
} >"$work/clients.json"

for port in "$PORT_A" "$PORT_B"; do
  echo "starting Signoff at 127.0.0.1:$port (PostgreSQL $pg_db)" >&2
  SIGNOFF_WEBHOOK_URLS=http://127.0.0.1:$HOOK_PORT/hook SIGNOFF_WEBHOOK_SECRET=$hook_secret \
    LEPTOS_ENV=PROD LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_SITE_ROOT=$SITE LEPTOS_OUTPUT_NAME=signoff RUST_LOG=warn \
    "$BIN" >>"$work/server-$port.log" 2>&1 &
  pids+=($!)
done
wait_for "$a/readyz"
wait_for "$b/readyz"

if [ "$LOAD_RATE" -gt 0 ]; then
  echo "minting $LOAD_TOKENS opaque tokens for the background load ($MINTERS processes)" >&2
  per=$(( (LOAD_TOKENS + MINTERS - 1) / MINTERS ))
  minters=()
  for m in $(seq "$MINTERS"); do
    # Without an fsync per commit: the minting process's durability does not matter.
    PGOPTIONS='-c synchronous_commit=off' RUST_LOG=warn "$BENCH_BIN" mint --email "load-$m@example.com" --count "$per" --kind opaque >"$work/load-tokens-$m" &
    minters+=($!)
  done
  wait "${minters[@]}"
  cat "$work"/load-tokens-* >"$work/load-tokens"
  # signoff-bench listens for revocations like an instance while it runs; the servers count it for
  # 1.4 s after it has gone (see bench/run.sh). Let it be gone before the logouts.
  sleep 2
fi

echo "sampling $N logouts (× $NCLIENTS clients) under $LOAD_RATE background logouts/s" >&2
node bench/channels.mjs "$a" "$b" "$work/clients.json" "$RECV_PORT" "$HOOK_PORT" "$hook_secret" "$N" \
  "$LOAD_RATE" "$work/load-tokens" >"$work/channels.json"
cat "$work/channels.json" >&2

python3 - "$work/channels.json" "$N" "$NCLIENTS" "$LOAD_RATE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, k, rate = sys.argv[2], int(sys.argv[3]), sys.argv[4]
f = lambda v: "–" if v is None else f"{v:.1f}"
names = {
    "B refuses": "(a) instance B refuses the access token (`/oauth/userinfo` → 401)",
    "events A": "(b) `/events` stream on A: `signed-out`",
    "events B": "(b) `/events` stream on B: `signed-out`",
    "webhook": "(c) webhook receiver: `session.ended` (signature checked)",
}
print(f"#### Logout → every channel told (N = {n} browser logouts on A, {k} OpenID clients each; background {rate} seed-002 logouts/s over A and B)")
print()
print("Times in ms from just before the logout request (POST /_fn/logout on A) is sent.")
print()
print("| channel | p50 | p99 | max | told | missing (> 5 s) |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
a = r["answer_ms"]
print(f"| the logout's own answer (A's 303) | {f(a['p50'])} | {f(a['p99'])} | {f(a['max'])} | {a['n']} | – |")
for key, c in r["channels"].items():
    name = names.get(key, f"(d) back-channel receiver {key.split()[-1]}: logout token")
    print(f"| {name} | {f(c['p50'])} | {f(c['p99'])} | {f(c['max'])} | {c['n']} | {c['missing']} |")
lb, al = r["last_backchannel_ms"], r["all_told_ms"]
print(f"| (d) the last back-channel receiver of the sign-in | {f(lb['p50'])} | {f(lb['p99'])} | {f(lb['max'])} | {lb['n']} | {int(n) - lb['n']} |")
print(f"| **(e) all told** (the last of the above) | **{f(al['p50'])}** | **{f(al['p99'])}** | {f(al['max'])} | {al['n']} | {int(n) - al['n']} |")
print()
l = r.get("load") or {}
if l:
    print(f"Background load: {l.get('ok')} logouts answered 2xx in {l.get('seconds')} s ({l.get('rate')}/s of {l.get('target_rate')}/s asked), "
          f"{l.get('non2xx')} non-2xx, {l.get('errors')} connection errors, answers p50 {l.get('p50_ms')} ms / p99 {l.get('p99_ms')} ms, "
          f"fell behind: {'yes' if l.get('fell_behind') else 'no'}; stopped by: {l.get('stopped_by')}.")
else:
    print("Background load: none.")
print(f"Sampled logouts answered other than 303: {r['bad_answers']}; webhook events received in all: {r['webhook_events']} "
      f"(bad signatures among the sampled: {r['webhook_bad_signatures']}); stray logout tokens: {r['stray_logout_tokens']}; "
      f"B polled every {r['poll_interval_ms']} ms on average (the resolution of (a)); set-up {r['setup_s']} s, sampling {r['sample_s']} s.")
PY
echo
echo "server warnings (count, message):"
grep -hE ' WARN | ERROR ' "$work"/server-*.log 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g; s/^.* (WARN|ERROR) //' \
  | sort | uniq -c | sort -rn | head -5 || true
