#!/usr/bin/env bash
# The benchmark behind docs/performance.md: the release server on loopback under wrk (2 threads, 64
# connections by default), side by side with two peers set up from their registries (bench/peers/:
# Django REST framework + simplejwt's blacklist under gunicorn, and better-auth on Node, both on
# SQLite in WAL mode), in one run on one machine. Prints a Markdown table (throughput, p50/p99,
# CPU busy) and the ratios the issues' targets are stated in. Everything it starts listens on
# 127.0.0.1 and is stopped at exit.
#
#   bench/run.sh                  # everything (the PostgreSQL part needs a server at 127.0.0.1:5432)
#   BENCH_SECONDS=5 bench/run.sh  # shorter read runs
#   BENCH_PEERS=0 bench/run.sh    # without the peers
#   BENCH_LOGOUT_SECONDS, BENCH_PEER_SECONDS, BENCH_TOKENS, BENCH_PEER_TOKENS, BENCH_CONNECTIONS,
#   BENCH_THREADS: the run lengths, credentials minted per run, and the load shape
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires.
export SIGNOFF_SECURE_COOKIES=false
# The rotation itself is measured: the per-sign-in refresh limit (60 a minute) is off.
export SIGNOFF_REFRESH_PER_MINUTE=0
scripts/setup >/dev/null
source scripts/env.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

SECONDS_PER_RUN=${BENCH_SECONDS:-5}
# The fast reads are measured in rounds, every scenario once per round, and each is reported by its
# median round: on a shared machine throughput drifts by 10-30 % over minutes, and one run per
# scenario made the ratios between them depend on when each ran.
ROUNDS=${BENCH_ROUNDS:-3}
LOGOUT_SECONDS=${BENCH_LOGOUT_SECONDS:-3}
# The peers run longer: they are slow to warm up (gunicorn opens a connection per request), and a
# short run would understate them, and so overstate the ratios.
PEER_SECONDS=${BENCH_PEER_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
TOKENS=${BENCH_TOKENS:-60000}
PEER_TOKENS=${BENCH_PEER_TOKENS:-12000}
PEERS=${BENCH_PEERS:-1}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# Production mode (LEPTOS_ENV=PROD) requires the JWT secret; the minting helper must sign with it too.
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
# Production mode requires the OpenID keys' directory too: one for the whole run (every instance
# shares it, as the instances of one deployment do).
export SIGNOFF_OIDC_KEYS=${SIGNOFF_OIDC_KEYS:-$(mktemp -d)/oidc-keys}

echo "building the release server (cargo leptos build --release)" >&2
cargo leptos build --release >&2
cargo build --profile bench-tools --no-default-features --features ssr --bin signoff-bench --bin bare-axum >&2
BIN=$PWD/target/release/signoff
BENCH_BIN=$PWD/target/bench-tools/signoff-bench
BARE_BIN=$PWD/target/bench-tools/bare-axum
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${pg_db:-}" ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for URL: until it answers (any status).
wait_for() {
  for _ in $(seq 600); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "nothing answers at $1" >&2; exit 1
}
# start PORT DATABASE_URL: the release server in the background, waiting until it answers.
start() {
  SIGNOFF_SQLITE_SYNCHRONOUS=${SYNC:-full} LEPTOS_SITE_ADDR=127.0.0.1:$1 LEPTOS_OUTPUT_NAME=signoff LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
    DATABASE_URL=$2 RUST_LOG=warn "$BIN" >>"$work/server-$1.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$1/login"
}
stop_all() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
# mint DATABASE_URL COUNT KIND: fresh tokens, one sign-in each (without an fsync per commit: the
# minting process's durability does not matter, and it keeps set-up time down).
mint() { SIGNOFF_SQLITE_SYNCHRONOUS=normal DATABASE_URL=$1 RUST_LOG=warn "$BENCH_BIN" mint --email bench@example.com --count "$2" --kind "$3"; }

# cpu_jiffies: "busy total" from /proc/stat (all cores).
cpu_jiffies() { awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print total - idle, total }' /proc/stat; }

rows=()
declare -A RPS P99 CPU
# run_wrk OUT SECONDS URL SCRIPT CONNECTIONS [ENV=VALUE…]: one wrk run, its output in file OUT.
run_wrk() {
  local out=$1 secs=$2 url=$3 script=$4 conns=$5
  shift 5
  env THREADS="$THREADS" "$@" wrk -t"$THREADS" -c"$conns" -d"${secs}s" --latency -s "$script" "$url" >"$out"
}
runs=0
# record NAME OUTFILE… BUSY TOTAL: one table row from one or more wrk outputs run at the same time.
record() {
  local name=$1 busy=$2 total=$3
  shift 3
  local rps=0 requests=0 non2xx=0 p50=0 p99=0
  for out in "$@"; do
    local s
    s=$(grep LUA-SUMMARY "$out")
    rps=$(awk -v a="$rps" -v b="$(awk '/^Requests\/sec:/ {print $2}' "$out")" 'BEGIN {printf "%.0f", a + b}')
    requests=$((requests + $(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$s")))
    non2xx=$((non2xx + $(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$s")))
    # With several generators at once, the worst of their percentiles is reported.
    p50=$(awk -v a="$p50" -v b="$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$s")" 'BEGIN {print (b > a ? b : a)}')
    p99=$(awk -v a="$p99" -v b="$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$s")" 'BEGIN {print (b > a ? b : a)}')
  done
  local cpu
  cpu=$(awk -v b="$busy" -v t="$total" 'BEGIN {printf "%.0f", (t > 0 ? 100 * b / t : 0)}')
  RPS[$name]=$rps; P99[$name]=$p99; CPU[$name]=$cpu
  rows+=("| $name | $rps | $(awk "BEGIN {printf \"%.2f\", $p50/1000}") | $(awk "BEGIN {printf \"%.2f\", $p99/1000}") | $cpu % | $requests | $non2xx |")
  echo "$name: $rps req/s, p50 ${p50} µs, p99 ${p99} µs, CPU busy $cpu %, $non2xx non-2xx of $requests" >&2
}
# sample KEY ROUND SECONDS URL SCRIPT [ENV=VALUE…]: one wrk run, kept with the CPU it kept busy.
declare -A ROUND_OUT ROUND_BUSY ROUND_TOTAL
sample() {
  local key=$1 round=$2 secs=$3 url=$4 script=$5
  shift 5
  local before after out
  runs=$((runs + 1))
  out=$work/run-$runs.out
  before=$(cpu_jiffies)
  run_wrk "$out" "$secs" "$url" "$script" "$CONNECTIONS" "$@"
  after=$(cpu_jiffies)
  ROUND_OUT[$key.$round]=$out
  ROUND_BUSY[$key.$round]=$(( $(cut -d' ' -f1 <<<"$after") - $(cut -d' ' -f1 <<<"$before") ))
  ROUND_TOTAL[$key.$round]=$(( $(cut -d' ' -f2 <<<"$after") - $(cut -d' ' -f2 <<<"$before") ))
}
# recorded KEY ROUND NAME: records a kept run as table row NAME.
recorded() {
  record "$3" "${ROUND_BUSY[$1.$2]}" "${ROUND_TOTAL[$1.$2]}" "${ROUND_OUT[$1.$2]}"
}
# measure NAME SECONDS URL SCRIPT [ENV=VALUE…]: one wrk run, recorded at once.
measure() {
  local name=$1
  shift
  sample "$name" 1 "$@"
  recorded "$name" 1 "$name"
}
# median KEY NAME: records scenario KEY's median round (by requests/s) as row NAME.
median() {
  local key=$1 name=$2 mid
  mid=$(for r in $(seq "$ROUNDS"); do echo "$(awk '/^Requests\/sec:/ {print $2}' "${ROUND_OUT[$key.$r]}") $r"; done \
    | sort -n | awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) {print $2}')
  recorded "$key" "$mid" "$name"
}

# ---- Fast reads: the ceiling (bare axum, one constant route) and Signoff on SQLite, in rounds ----
"$BARE_BIN" 127.0.0.1:3299 >>"$work/bare.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:3299/healthz"
sqlite_url="sqlite://$work/bench.db?mode=rwc"
start 3200 "$sqlite_url"
base=http://127.0.0.1:3200
opaque=$(mint "$sqlite_url" 1 opaque)
jwt=$(mint "$sqlite_url" 1 jwt | cut -d' ' -f1)
# A bundle file by its hashed name, as a browser asks for it (brotli accepted): the stylesheet, so
# that the run measures the serving path rather than loopback's bandwidth.
asset=$(cd target/site && ls pkg/signoff.*.css | head -1)
for round in $(seq "$ROUNDS"); do
  sample bare "$round" "$SECONDS_PER_RUN" "http://127.0.0.1:3299/healthz" bench/plain.lua
  sample healthz "$round" "$SECONDS_PER_RUN" "$base/healthz" bench/plain.lua
  sample asset "$round" "$SECONDS_PER_RUN" "$base/$asset" bench/plain.lua ACCEPT_ENCODING=br
  sample client "$round" "$SECONDS_PER_RUN" "$base/clients/signoff.js" bench/plain.lua
  sample opaque "$round" "$SECONDS_PER_RUN" "$base/api/v1/account/me" bench/bearer.lua TOKEN="$opaque"
  sample jwt "$round" "$SECONDS_PER_RUN" "$base/api/v1/account/me" bench/bearer.lua TOKEN="$jwt"
  for key in bare healthz asset client opaque jwt; do
    echo "$key, round $round: $(awk '/^Requests\/sec:/ {print $2}' "${ROUND_OUT[$key.$round]}") req/s" >&2
  done
done
median bare "bare axum 0.8, constant route (the ceiling)"
median healthz "GET /healthz"
median asset "static asset (GET /$asset, brotli)"
median client "static route (GET /clients/signoff.js)"
median opaque "GET /api/v1/account/me, opaque token (SQLite)"
median jwt "GET /api/v1/account/me, JWT (SQLite)"
# Click "Log out" until /login is painted, in headless Chromium, JavaScript on and off.
paint=$(node bench/logout-paint.mjs "$base" 20)
echo "$paint" >&2
# What a first visit downloads: the page's wasm and JavaScript, as served (brotli) and gzipped.
bundle=$(cd target/site/pkg && for f in signoff.*.wasm signoff.*.js; do
  printf '%s %s %s %s\n' "$f" "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)" "$(stat -c %s "$f.br" 2>/dev/null || echo -)"
done)
for dialect in 002 004 000 001; do
  kind=opaque; [ "$dialect" = 004 ] && kind=jwt
  echo "minting $TOKENS $kind tokens for seed $dialect" >&2
  mint "$sqlite_url" "$TOKENS" "$kind" >"$work/tokens-$dialect"
  measure "Signoff logout, seed $dialect (SQLite FULL)" "$LOGOUT_SECONDS" "$base" bench/tokens.lua DIALECT=$dialect TOKENS="$work/tokens-$dialect"
done
stop_all

# ---- The peers, same load shape ----
if [ "$PEERS" = 1 ]; then
  for peer in django better-auth; do
    dir=bench/peers/$peer
    echo "setting up $peer" >&2
    "$dir/setup.sh" >&2
    mkdir -p "$work/$peer"
    "$dir/start.sh" 3900 "$work/$peer" >>"$work/$peer.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:3900/"
    echo "minting $PEER_TOKENS credentials for $peer" >&2
    "$dir/mint.sh" 3900 "$work/$peer" "$PEER_TOKENS" >"$work/tokens-$peer"
    measure "peer: $peer logout (SQLite WAL)" "$PEER_SECONDS" "http://127.0.0.1:3900" "$dir/logout.lua" TOKENS="$work/tokens-$peer"
    stop_all
  done
fi

# ---- Signoff on PostgreSQL, two instances ----
propagation="SKIPPED: no PostgreSQL at 127.0.0.1:5432"
if pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_db=signoff_bench_$$
  psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
  pg_url="${PG_ADMIN%/*}/$pg_db"
  start 3301 "$pg_url"
  start 3302 "$pg_url"
  for half in a b; do mint "$pg_url" "$((TOKENS / 2))" opaque >"$work/pg-tokens-$half"; done
  # The minting helper listens for revocations like any instance while it runs; once it has exited,
  # the servers still count it for 1.4 s (revocations::PEER_GONE_AFTER), and a logout answered
  # meanwhile waits up to 0.9 s for its acknowledgement. Let it be gone before the load.
  sleep 2
  before=$(cpu_jiffies)
  run_wrk "$work/pg-a.out" "$LOGOUT_SECONDS" http://127.0.0.1:3301 bench/tokens.lua $((CONNECTIONS / 2)) DIALECT=002 TOKENS="$work/pg-tokens-a" &
  wa=$!
  run_wrk "$work/pg-b.out" "$LOGOUT_SECONDS" http://127.0.0.1:3302 bench/tokens.lua $((CONNECTIONS / 2)) DIALECT=002 TOKENS="$work/pg-tokens-b" &
  wb=$!
  wait "$wa" "$wb"
  after=$(cpu_jiffies)
  record "Signoff logout, seed 002 (PostgreSQL, two instances, 32 connections each)" \
    $(( $(cut -d' ' -f1 <<<"$after") - $(cut -d' ' -f1 <<<"$before") )) \
    $(( $(cut -d' ' -f2 <<<"$after") - $(cut -d' ' -f2 <<<"$before") )) "$work/pg-a.out" "$work/pg-b.out"
  mint "$pg_url" 300 jwt >"$work/propagation-tokens"
  sleep 2
  propagation=$(python3 bench/propagation.py 3301 3302 "$work/propagation-tokens")
  echo "$propagation" >&2
  stop_all
fi

echo
echo "| scenario | requests/s | p50 ms | p99 ms | CPU busy | requests | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "revocation propagation, instance A → B on PostgreSQL: $propagation"
echo
echo "$paint"
echo
echo "bundle (file, bytes, gzip -9 bytes, brotli bytes as served):"
echo "$bundle"
echo "wasm + JS gzip: $(awk '{ s += $3 } END { printf "%.1f KB", s / 1024 }' <<<"$bundle")," \
  "brotli: $(awk '{ s += $4 } END { printf "%.1f KB", s / 1024 }' <<<"$bundle")"
echo
# What the servers warned about under load (RUST_LOG=warn), counted by message.
echo "server warnings (count, message):"
cat "$work"/server-*.log 2>/dev/null | grep -E ' WARN ' | sed -E 's/^.* WARN //; s/\x1b\[[0-9;]*m//g' \
  | sort | uniq -c | sort -rn | head -5 || true
ratio() { awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" 'BEGIN {printf "%.0f %%", 100 * a / b}'; }
echo
echo "ratios (fast reads):"
echo "- /healthz / bare axum: $(ratio "GET /healthz" "bare axum 0.8, constant route (the ceiling)") (target ≥ 60 %)"
echo "- me, JWT / /healthz: $(ratio "GET /api/v1/account/me, JWT (SQLite)" "GET /healthz") (target ≥ 90 %)"
echo "- me, opaque / /healthz: $(ratio "GET /api/v1/account/me, opaque token (SQLite)" "GET /healthz") (target ≥ 85 %)"
echo "- static asset / /healthz: $(ratio "static asset (GET /$asset, brotli)" "GET /healthz") (target ≥ 50 %)"
if [ "$PEERS" = 1 ]; then
  best=$(awk -v a="${RPS[peer: django logout (SQLite WAL)]}" -v b="${RPS[peer: better-auth logout (SQLite WAL)]}" 'BEGIN {print (a > b ? a : b)}')
  echo
  echo "ratios to the better peer ($best logouts/s):"
  for dialect in 002 004 000 001; do
    name="Signoff logout, seed $dialect (SQLite FULL)"
    echo "- seed $dialect: $(awk -v s="${RPS[$name]}" -v p="$best" 'BEGIN {printf "%.1f", s / p}')×"
  done
fi
