#!/usr/bin/env bash
# Benchmarks the release server on loopback with wrk (one wrk thread, 64 connections by default)
# and prints a Markdown table: throughput and p50/p99 latency for each scenario of
# docs/performance.md. Everything it starts listens on 127.0.0.1 and is stopped at exit.
#
#   bench/run.sh                 # all scenarios (needs PostgreSQL for the last two)
#   BENCH_SECONDS=5 bench/run.sh # shorter runs
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
source scripts/env.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
LOGOUT_SECONDS=${BENCH_LOGOUT_SECONDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
TOKENS_PER_DIALECT=${BENCH_TOKENS:-12000}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}

echo "building the release server (cargo leptos build --release)" >&2
cargo leptos build --release >&2
BIN=$PWD/target/release/signoff
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${pg_db:-}" ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start PORT DATABASE_URL: the release server in the background, waiting until it answers.
start() {
  SIGNOFF_SQLITE_SYNCHRONOUS=${SYNC:-full} LEPTOS_SITE_ADDR=127.0.0.1:$1 LEPTOS_OUTPUT_NAME=signoff LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD \
    DATABASE_URL=$2 RUST_LOG=warn "$BIN" >>"$work/server-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$1/login" && return 0; sleep 0.1; done
  echo "the server on port $1 did not start" >&2; tail "$work/server-$1.log" >&2; exit 1
}
stop_all() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
mint() { DATABASE_URL=$1 RUST_LOG=warn "$BIN" bench-mint --email bench@example.com --count "$2" --kind "$3"; }

rows=()
# measure NAME SECONDS URL SCRIPT [ENV=VALUE…]: runs wrk, records requests/s, p50, p99, non-2xx.
measure() {
  local name=$1 secs=$2 url=$3 script=$4
  shift 4
  local out
  out=$(env "$@" wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency -s "bench/$script" "$url")
  local rps summary
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  summary=$(grep LUA-SUMMARY <<<"$out")
  local p50 p99 non2xx requests
  p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$summary")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$summary")
  non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$summary")
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$summary")
  rows+=("| $name | $rps | $(awk "BEGIN {printf \"%.2f\", $p50/1000}") | $(awk "BEGIN {printf \"%.2f\", $p99/1000}") | $requests | $non2xx |")
  echo "$name: $rps req/s, p50 ${p50} µs, p99 ${p99} µs, $non2xx non-2xx of $requests" >&2
}

# ---- SQLite: one instance ----
sqlite_url="sqlite://$work/bench.db?mode=rwc"
start 3200 "$sqlite_url"
base=http://127.0.0.1:3200
opaque=$(mint "$sqlite_url" 1 opaque)
jwt=$(mint "$sqlite_url" 1 jwt | cut -d' ' -f1)
# The ceiling: a route of the same router answering a constant (the bundled JS client), so it
# pays for every layer but no work of its own.
measure "static route (GET /clients/signoff.js), the ceiling" "$SECONDS_PER_RUN" "$base/clients/signoff.js" plain.lua
measure "static file (GET /favicon.svg from disk)" "$SECONDS_PER_RUN" "$base/favicon.svg" plain.lua
measure "GET /api/v1/account/me, opaque token (SQLite)" "$SECONDS_PER_RUN" "$base/api/v1/account/me" bearer.lua TOKEN="$opaque"
measure "GET /api/v1/account/me, JWT (SQLite)" "$SECONDS_PER_RUN" "$base/api/v1/account/me" bearer.lua TOKEN="$jwt"
for dialect in 000 001 002 004; do
  kind=opaque; [ "$dialect" = 004 ] && kind=jwt
  echo "minting $TOKENS_PER_DIALECT $kind tokens for seed $dialect" >&2
  mint "$sqlite_url" "$TOKENS_PER_DIALECT" "$kind" >"$work/tokens-$dialect"
  measure "logout, seed $dialect, a fresh token each (SQLite)" "$LOGOUT_SECONDS" "$base" tokens.lua DIALECT=$dialect TOKENS="$work/tokens-$dialect"
done
stop_all
# The same logout with SQLite committing without an fsync (survives a process crash, not a power cut).
SYNC=normal start 3200 "$sqlite_url"
mint "$sqlite_url" "$TOKENS_PER_DIALECT" opaque >"$work/tokens-normal"
measure "logout, seed 002, a fresh token each (SQLite, synchronous=NORMAL)" "$LOGOUT_SECONDS" "$base" tokens.lua DIALECT=002 TOKENS="$work/tokens-normal"
stop_all
for n in 1000 1000000; do
  # bench-deny adds up to N entries in total.
  DATABASE_URL=$sqlite_url RUST_LOG=warn "$BIN" bench-deny --count "$n" >&2
  start 3200 "$sqlite_url"
  measure "GET /api/v1/account/me, JWT, $n revoked entries (SQLite)" "$SECONDS_PER_RUN" "$base/api/v1/account/me" bearer.lua TOKEN="$jwt"
  stop_all
done

# ---- PostgreSQL: two instances ----
if pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_db=signoff_bench_$$
  psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
  pg_url="${PG_ADMIN%/*}/$pg_db"
  start 3301 "$pg_url"
  start 3302 "$pg_url"
  mint "$pg_url" "$TOKENS_PER_DIALECT" opaque >"$work/pg-tokens"
  measure "logout, seed 002, a fresh token each (PostgreSQL)" "$LOGOUT_SECONDS" "http://127.0.0.1:3301" tokens.lua DIALECT=002 TOKENS="$work/pg-tokens"
  pg_jwt=$(mint "$pg_url" 1 jwt | cut -d' ' -f1)
  measure "GET /api/v1/account/me, JWT (PostgreSQL)" "$SECONDS_PER_RUN" "http://127.0.0.1:3302/api/v1/account/me" bearer.lua TOKEN="$pg_jwt"
  mint "$pg_url" 300 jwt >"$work/propagation-tokens"
  propagation=$(python3 bench/propagation.py 3301 3302 "$work/propagation-tokens")
  echo "$propagation" >&2
else
  propagation="SKIPPED: no PostgreSQL at 127.0.0.1:5432"
  echo "$propagation" >&2
fi

echo
echo "| scenario | requests/s | p50 ms | p99 ms | requests | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "revocation propagation, instance A → B on PostgreSQL: $propagation"
