#!/usr/bin/env bash
# The OpenID Provider benchmark (issue 26): Signoff side by side with panva's oidc-provider
# (bench/peers/oidc-provider/, pinned in its package.json, storage in memory), both on loopback, in
# one run on one machine. Prints Markdown tables and which targets were met or missed.
#
# 1. "Logout reaches every application": N sign-ins, each signed into 10 clients, each client with
#    its own back-channel receiver (bench/oidc-flows.mjs: one node:http server per port). Per
#    sign-in, RP-initiated logout with the first client's ID token as id_token_hint: the time from
#    the logout's answer (Signoff: the /end-session 303; the peer: the 303 of its confirmation form's
#    POST, after GET /session/end) to the 10th logout token received; p50/p99 over N sign-ins. The
#    same for Signoff under a background load of seed 002 logouts (bench/oidc-load.mjs, open loop at
#    BENCH_OIDC_LOAD_RATE/s, opaque tokens minted by signoff-bench).
# 2. Introspection throughput (wrk, one live access token, client_secret_basic) against Signoff's
#    /healthz and the peer's introspection.
# 3. The refresh grant (each request rotates: wrk chains each connection's tokens, starting from a
#    pool minted by code flows), Signoff against the peer.
# The throughput runs go in rounds (every scenario once per round) and each is reported by its
# median round, with the spread (lowest–highest requests/s) of its rounds, as bench/run.sh does.
#
#   bench/oidc.sh                                   # release build: target/release/signoff
#   SIGNOFF_BIN=/tmp/bench-signoff SIGNOFF_SITE=/tmp/bench-site BENCH_OIDC_N=20 BENCH_SECONDS=3 bench/oidc.sh
#
# Environment (defaults in brackets):
#   SIGNOFF_BIN [target/release/signoff], SIGNOFF_SITE [target/site]: the server and its site root
#   SIGNOFF_BENCH_BIN [target/bench-tools/signoff-bench]: mints the background load's tokens
#     (`cargo build --profile bench-tools --no-default-features --features ssr --bin signoff-bench`);
#     without it the loaded scenario is skipped, and said so
#   BENCH_OIDC_N [200]: sign-ins per logout scenario
#   BENCH_OIDC_LOAD_RATE [1000]: background logouts per second (0: skip the loaded scenario)
#   BENCH_OIDC_LOAD_TOKENS [rate × (8 + N / 10)]: tokens minted for it
#   BENCH_SECONDS [5], BENCH_ROUNDS [3], BENCH_CONNECTIONS [64], BENCH_THREADS [2]: throughput runs
#   BENCH_OIDC_PORT [3960]: Signoff's port; the peer's is +1, Signoff's receivers +10…+19, the
#     peer's +20…+29
#   SIGNOFF_SQLITE_SYNCHRONOUS [full, the server's default] is passed through to the server.
# Everything listens on 127.0.0.1 and is stopped at exit; nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires.
export SIGNOFF_SECURE_COOKIES=false
# The rotation itself is measured: the per-sign-in refresh limit (60 a minute) is off.
export SIGNOFF_REFRESH_PER_MINUTE=0
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v node >/dev/null || { echo "node is needed (bench/oidc-flows.mjs, the peer)" >&2; exit 1; }

BIN=$(realpath -m "${SIGNOFF_BIN:-target/release/signoff}")
SITE=$(realpath -m "${SIGNOFF_SITE:-target/site}")
BENCH_BIN=${SIGNOFF_BENCH_BIN:-target/bench-tools/signoff-bench}
N=${BENCH_OIDC_N:-200}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
LOAD_RATE=${BENCH_OIDC_LOAD_RATE:-1000}
LOAD_TOKENS=${BENCH_OIDC_LOAD_TOKENS:-$((LOAD_RATE * (8 + N / 10)))}
PORT=${BENCH_OIDC_PORT:-3960}
PEER_PORT=$((PORT + 1))
S_RECV=$((PORT + 10))
P_RECV=$((PORT + 20))
[ -x "$BIN" ] || { echo "no server binary at $BIN (SIGNOFF_BIN)" >&2; exit 1; }
[ -d "$SITE" ] || { echo "no site root at $SITE (SIGNOFF_SITE)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The server's environment (production mode: the JWT secret and the OpenID keys' directory are
# required). signoff-bench and `signoff clients` use the same database and secrets.
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export SIGNOFF_OIDC_KEYS=$work/oidc-keys
export DATABASE_URL="sqlite://$work/signoff.db?mode=rwc"
export SIGNOFF_PUBLIC_URL=http://127.0.0.1:$PORT
base=$SIGNOFF_PUBLIC_URL
peer=http://127.0.0.1:$PEER_PORT

wait_for() {
  for _ in $(seq 600); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; exit 1
}

# ---- Clients: 10 on Signoff (the CLI), the same 10 shapes as the peer's (its provider.mjs) ----
echo "registering 10 clients on Signoff" >&2
{
  echo '['
  for i in $(seq 0 9); do
    out=$(RUST_LOG=warn "$BIN" clients add --name "bench-$i" --redirect-uri "http://127.0.0.1:$S_RECV/cb" \
      --post-logout-redirect-uri "http://127.0.0.1:$S_RECV/bye" \
      --backchannel-logout-uri "http://127.0.0.1:$((S_RECV + i))/backchannel" --json)
    [ "$i" -gt 0 ] && echo ','
    echo "${out%\}},\"redirect_uri\":\"http://127.0.0.1:$S_RECV/cb\",\"post_logout_redirect_uri\":\"http://127.0.0.1:$S_RECV/bye\"}"
  done
  echo ']'
} >"$work/signoff-clients.json"
node -e '
  const [recv] = process.argv.slice(1);
  console.log(JSON.stringify(Array.from({ length: 10 }, (_, i) => ({
    client_id: `bench-${i}`, client_secret: `bench-secret-${i}-0123456789abcdef0123456789abcdef`,
    redirect_uri: `http://127.0.0.1:${recv}/cb`, post_logout_redirect_uri: `http://127.0.0.1:${recv}/bye`,
  }))));' "$P_RECV" >"$work/peer-clients.json"
basic_of() { node -e 'const c = require(process.argv[1])[0]; console.log(Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString("base64"))' "$1"; }
S_AUTH=$(basic_of "$work/signoff-clients.json")
P_AUTH=$(basic_of "$work/peer-clients.json")

# ---- Start both ----
echo "starting Signoff ($BIN) at $base" >&2
LEPTOS_ENV=PROD LEPTOS_SITE_ADDR=127.0.0.1:$PORT LEPTOS_SITE_ROOT=$SITE LEPTOS_OUTPUT_NAME=signoff RUST_LOG=warn \
  "$BIN" >>"$work/signoff.log" 2>&1 &
pids+=($!)
echo "setting up and starting the oidc-provider peer at $peer" >&2
bench/peers/oidc-provider/setup.sh >&2
peer_version=$(node -p 'require("./bench/peers/oidc-provider/node_modules/oidc-provider/package.json").version')
bench/peers/oidc-provider/start.sh "$PEER_PORT" "$P_RECV" >>"$work/peer.log" 2>&1 &
pids+=($!)
wait_for "$base/healthz"
wait_for "$peer/healthz"

flows() { node bench/oidc-flows.mjs "$@"; }

# ---- 1. Logout reaches every application ----
echo "logout: Signoff, $N sign-ins × 10 clients" >&2
flows logout signoff "$base" "$work/signoff-clients.json" "$S_RECV" "$N" >"$work/logout-signoff.json"
cat "$work/logout-signoff.json" >&2
echo "logout: oidc-provider $peer_version, $N sign-ins × 10 clients" >&2
flows logout peer "$peer" "$work/peer-clients.json" "$P_RECV" "$N" >"$work/logout-peer.json"
cat "$work/logout-peer.json" >&2
load_note=""
if [ "$LOAD_RATE" -le 0 ]; then
  load_note="skipped (BENCH_OIDC_LOAD_RATE=0)"
elif [ ! -x "$BENCH_BIN" ]; then
  load_note="skipped: no signoff-bench at $BENCH_BIN to mint the load's tokens (SIGNOFF_BENCH_BIN)"
else
  echo "minting $LOAD_TOKENS opaque tokens for the background load" >&2
  SIGNOFF_SQLITE_SYNCHRONOUS=normal RUST_LOG=warn "$BENCH_BIN" mint --email load@example.com --count "$LOAD_TOKENS" --kind opaque >"$work/load-tokens"
  echo "logout: Signoff under $LOAD_RATE seed-002 logouts/s, $N sign-ins × 10 clients" >&2
  flows logout signoff "$base" "$work/signoff-clients.json" "$S_RECV" "$N" "$LOAD_RATE" "$work/load-tokens" >"$work/logout-signoff-load.json"
  cat "$work/logout-signoff-load.json" >&2
fi

# ---- 2 and 3. Throughput, in rounds ----
# active URL PATH AUTH TOKEN: whether introspection calls TOKEN active.
active() { curl -s -H "Authorization: Basic $3" --data-urlencode "token=$4" "$1$2" | grep -q '"active":true'; }
# run KEY ROUND URL SCRIPT [ENV=VALUE…]: one wrk run into $work/wrk-KEY-ROUND.out.
run() {
  local key=$1 round=$2 url=$3 script=$4
  shift 4
  env THREADS="$THREADS" "$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --latency -s "$script" "$url" >"$work/wrk-$key-$round.out"
  echo "$key, round $round: $(awk '/^Requests\/sec:/ {print $2}' "$work/wrk-$key-$round.out") req/s" >&2
}
pool=$((CONNECTIONS + 2 * THREADS + 8))
for round in $(seq "$ROUNDS"); do
  s_at=$(flows access signoff "$base" "$work/signoff-clients.json")
  p_at=$(flows access peer "$peer" "$work/peer-clients.json")
  flows mint signoff "$base" "$work/signoff-clients.json" "$pool" >"$work/signoff-rt-$round"
  flows mint peer "$peer" "$work/peer-clients.json" "$pool" >"$work/peer-rt-$round"
  active "$base" /oauth/introspect "$S_AUTH" "$s_at" || echo "Signoff: the access token is not active before the run" >"$work/inactive-signoff-$round"
  active "$peer" /token/introspection "$P_AUTH" "$p_at" || echo "peer: the access token is not active before the run" >"$work/inactive-peer-$round"
  run healthz "$round" "$base/healthz" bench/plain.lua
  run s-introspect "$round" "$base" bench/oidc-introspect.lua TOKEN="$s_at" AUTH="$S_AUTH" PATH_=/oauth/introspect
  run p-introspect "$round" "$peer" bench/oidc-introspect.lua TOKEN="$p_at" AUTH="$P_AUTH" PATH_=/token/introspection
  run s-refresh "$round" "$base" bench/oidc-refresh.lua TOKENS="$work/signoff-rt-$round" AUTH="$S_AUTH" PATH_=/oauth/token
  run p-refresh "$round" "$peer" bench/oidc-refresh.lua TOKENS="$work/peer-rt-$round" AUTH="$P_AUTH" PATH_=/token
  active "$base" /oauth/introspect "$S_AUTH" "$s_at" || echo "Signoff: the access token is not active after the run" >>"$work/inactive-signoff-$round"
  active "$peer" /token/introspection "$P_AUTH" "$p_at" || echo "peer: the access token is not active after the run" >>"$work/inactive-peer-$round"
done

python3 bench/oidc_report.py "$work" "$ROUNDS" "$peer_version" "$load_note" "$N" "$LOAD_RATE" "$SECS" "$CONNECTIONS" "$THREADS"
echo
echo "server warnings (count, message):"
grep -hE ' WARN | ERROR ' "$work/signoff.log" 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g; s/^.* (WARN|ERROR) //' \
  | sort | uniq -c | sort -rn | head -5 || true
echo "peer log (last lines, without its start-up notices):"
grep -vE 'WARNING: Unsupported runtime|NOTICE|peer at' "$work/peer.log" | tail -5 || true
