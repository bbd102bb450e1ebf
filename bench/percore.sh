#!/usr/bin/env bash
# Issue 28, "per CPU" and "database writes per 100 logouts": what a logout, a password login and a
# refresh cost in CPU and in writes to disk, on SQLite (synchronous=FULL, the default; one server)
# and on PostgreSQL (two instances on one database, as bench/run.sh runs it: one instance does not
# keep two cores busy, it waits on commits), beside Keycloak's published sizing figures (15 password
# logins/s and 120 refreshes/s per vCPU; 1,400 write IOPS per 100 requests/s).
#
# Per engine, each scenario on freshly started servers (so that PostgreSQL's statistics are
# complete: its backends report them when they close), every request with a fresh credential, the
# load spread evenly over the instances:
#   - idle: the servers started and nothing sent, BENCH_SECONDS (the device's background writes);
#   - logout, saturation: wrk (BENCH_CONNECTIONS in all, closed loop) sending seed 002 logouts
#     (`DELETE /api/v1/logout`, one fresh opaque token each, minted beforehand by signoff-bench);
#   - logout, fixed rate: BENCH_PC_RATE logouts/s for BENCH_PC_RATE_SECONDS (bench/oidc-load.mjs,
#     open loop);
#   - password login: wrk (BENCH_LOGIN_CONNECTIONS) on `POST /api/v1/account/login` (argon2id),
#     over BENCH_LOGIN_ACCOUNTS accounts (bench/login.lua);
#   - refresh: wrk on the OpenID refresh grant (`POST /oauth/token`, rotation; bench/oidc-refresh.lua),
#     each connection a chain of its own, started from a refresh token minted by a code flow in a
#     sign-in of its own;
#   - refresh, shared sign-ins: the same with 16 grants per sign-in, as bench/oidc.sh mints them
#     (one browser signed in to many applications, all refreshing at once).
# Each run goes through bench/counters.py: CPU (all cores from /proc/stat, interrupts apart; the
# server processes; PostgreSQL's processes for the run's database; the load generator),
# /proc/diskstats of the device holding the database (writes and flushes completed), the servers'
# write system calls, and PostgreSQL's pg_stat_wal / pg_stat_database. Prints two Markdown tables
# (bench/percore_report.py).
#
#   SIGNOFF_BIN=/tmp/rel/signoff SIGNOFF_SITE=/tmp/rel/site SIGNOFF_BENCH_BIN=/tmp/rel/signoff-bench bench/percore.sh
#   … BENCH_SECONDS=2 BENCH_PC_TOKENS=20000 BENCH_PC_RATE_SECONDS=2 bench/percore.sh   # a smoke run
#
# Environment (defaults in brackets):
#   SIGNOFF_BIN [target/release/signoff], SIGNOFF_SITE [target/site], SIGNOFF_BENCH_BIN
#     [target/bench-tools/signoff-bench]
#   BENCH_PC_ENGINES ["sqlite postgres"]; BENCH_PC_PG_INSTANCES [2]
#   BENCH_SECONDS [5]: the login, refresh and idle runs; BENCH_PC_LOGOUT_SECONDS [3]: the
#     saturation logout run; BENCH_THREADS [2] per wrk; BENCH_CONNECTIONS [64] in all
#   BENCH_LOGIN_CONNECTIONS [16] in all (the server refuses password checks past 16 waiting per
#     core), over BENCH_LOGIN_ACCOUNTS [64] accounts in turn (parallel checks of one account from
#     one address are throttled)
#   BENCH_PC_TOKENS [100000 on SQLite, 60000 on PostgreSQL]: tokens for the saturation run (a run
#     that runs out answers 401s, counted as non-2xx, and its figure is void)
#   BENCH_PC_RATE [1000], BENCH_PC_RATE_SECONDS [10]: the fixed-rate run
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]; BENCH_PC_PORT [4121] (and +1)
#   BENCH_KEEP: keep the work directory (every run's counters and wrk output) and say where
# Nothing is built; everything listens on 127.0.0.1 and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires (newer
# servers refuse to start without it; older ones take it as their default).
export SIGNOFF_SECURE_COOKIES=false
# The rotation itself is measured: the per-sign-in refresh limit (where the server has one) is off.
export SIGNOFF_REFRESH_PER_MINUTE=0
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

BIN=$(realpath -m "${SIGNOFF_BIN:-target/release/signoff}")
SITE=$(realpath -m "${SIGNOFF_SITE:-target/site}")
BENCH_BIN=$(realpath -m "${SIGNOFF_BENCH_BIN:-target/bench-tools/signoff-bench}")
ENGINES=${BENCH_PC_ENGINES:-sqlite postgres}
PG_INSTANCES=${BENCH_PC_PG_INSTANCES:-2}
SECS=${BENCH_SECONDS:-5}
LOGOUT_SECS=${BENCH_PC_LOGOUT_SECONDS:-3}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
LOGIN_CONNECTIONS=${BENCH_LOGIN_CONNECTIONS:-16}
LOGIN_ACCOUNTS=${BENCH_LOGIN_ACCOUNTS:-64}
RATE=${BENCH_PC_RATE:-1000}
RATE_SECS=${BENCH_PC_RATE_SECONDS:-10}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${BENCH_PC_PORT:-4121}
for f in "$BIN" "$BENCH_BIN"; do [ -x "$f" ] || { echo "no executable at $f (SIGNOFF_BIN, SIGNOFF_BENCH_BIN)" >&2; exit 1; }; done
[ -d "$SITE" ] || { echo "no site root at $SITE (SIGNOFF_SITE)" >&2; exit 1; }

work=$(mktemp -d)
servers=()
pg_db=
cleanup() {
  for p in "${servers[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$pg_db" ] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# Production mode; every instance, the CLI and signoff-bench share the secrets and one issuer.
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export SIGNOFF_OIDC_KEYS=$work/oidc-keys
export SIGNOFF_PUBLIC_URL=http://127.0.0.1:$PORT

# start: the engine's instances on $DATABASE_URL (SQLite FULL), waiting until each /readyz answers 200.
start() {
  local i
  for i in $(seq 0 $((n - 1))); do
    SIGNOFF_SQLITE_SYNCHRONOUS=full LEPTOS_ENV=PROD LEPTOS_SITE_ADDR=127.0.0.1:$((PORT + i)) LEPTOS_SITE_ROOT=$SITE \
      LEPTOS_OUTPUT_NAME=signoff RUST_LOG=warn "$BIN" >>"$work/server-$engine.log" 2>&1 &
    servers+=($!)
  done
  for b in "${bases[@]}"; do
    for _ in $(seq 600); do curl -fs -o /dev/null "$b/readyz" && continue 2; sleep 0.05; done
    echo "the server at $b did not become ready" >&2; exit 1
  done
}
stop() {
  for p in "${servers[@]:-}"; do [ -n "$p" ] && { kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }; done
  servers=()
}
# mint COUNT KIND: fresh tokens, one sign-in each, without an fsync per commit (the minting
# process's durability does not matter); on PostgreSQL by 4 processes at once.
mint() {
  if [ "$engine" = sqlite ] || [ "$1" -lt 100 ]; then
    SIGNOFF_SQLITE_SYNCHRONOUS=normal PGOPTIONS='-c synchronous_commit=off' RUST_LOG=warn "$BENCH_BIN" mint --email bench@example.com --count "$1" --kind "$2"
  else
    local m per=$(( ($1 + 3) / 4 )) ms=()
    # The account first, alone (four processes registering it at once would race).
    PGOPTIONS='-c synchronous_commit=off' RUST_LOG=warn "$BENCH_BIN" mint --email bench@example.com --count 1 --kind opaque >/dev/null
    for m in 1 2 3 4; do
      PGOPTIONS='-c synchronous_commit=off' RUST_LOG=warn "$BENCH_BIN" mint --email bench@example.com --count "$per" --kind "$2" >"$work/mint-$m" &
      ms+=($!)
    done
    wait "${ms[@]}"
    cat "$work"/mint-[1-4]
  fi
}
# deal FILE: FILE.1 … FILE.n, its lines dealt out in turn (one share per instance).
deal() {
  local i
  for i in $(seq "$n"); do awk -v n="$n" -v i="$i" 'NR % n == i % n' "$1" >"$1.$i"; done
}
# wrk_script NAME SECONDS CONNECTIONS SCRIPT [ENV=VALUE…]: writes $work/NAME.sh, which runs one wrk
# per instance at once (CONNECTIONS / n connections each, output in $work/NAME.out.I); `@I` in a
# value stands for the instance's number (1…n).
wrk_script() {
  local name=$1 secs=$2 conns=$3 script=$4 i
  shift 4
  {
    for i in $(seq "$n"); do
      printf 'env THREADS=%q' "$THREADS"
      printf ' %q' "${@//@I/$i}"
      printf ' wrk -t%s -c%s -d%ss --latency -s %q %q >%q &\n' "$THREADS" $((conns / n)) "$secs" "$script" \
        "${bases[i - 1]}" "$work/$name.out.$i"
    done
    echo wait
  } >"$work/$name.sh"
}
# measure NAME -- COMMAND…: one run through bench/counters.py (its output in $work/NAME.out), the
# counters in $work/NAME.json; then the servers stop, and PostgreSQL's counters go in NAME.pg.json.
measure() {
  local name=$1 p args=()
  shift 2
  for p in "${servers[@]}"; do args+=(--pid "$p"); done
  [ "$engine" = postgres ] && args+=(--pg-url "$PG_ADMIN" --pg-db "$pg_db")
  python3 bench/counters.py run "${args[@]}" --disk "$dbdir" --out "$work/$name.out" -- "$@" >"$work/$name.json"
  stop
  if [ "$engine" = postgres ]; then
    sleep 0.5
    python3 bench/counters.py pg --pg-url "$PG_ADMIN" --pg-db "$pg_db" >"$work/$name.pg.json"
  fi
  echo "$name: $(cat "$work/$name".out* | grep -E '^Requests/sec|target_rate' | tr '\n' ' ')" >&2
}

for engine in $ENGINES; do
  if [ "$engine" = sqlite ]; then
    n=1
    dbdir=$work/sqlite
    mkdir -p "$dbdir"
    export DATABASE_URL="sqlite://$dbdir/signoff.db?mode=rwc"
    tokens=${BENCH_PC_TOKENS:-100000}
  else
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "no PostgreSQL at 127.0.0.1:5432: skipping it" >&2; continue; }
    n=$PG_INSTANCES
    pg_db=signoff_percore_$$
    psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
    export DATABASE_URL="${PG_ADMIN%/*}/$pg_db"
    dbdir=$(psql "$PG_ADMIN" -XAtqc "SHOW data_directory")
    tokens=${BENCH_PC_TOKENS:-60000}
  fi
  bases=()
  for i in $(seq 0 $((n - 1))); do bases+=("http://127.0.0.1:$((PORT + i))"); done
  echo "== $engine, $n instance(s)" >&2
  client=$(RUST_LOG=warn "$BIN" clients add --name percore --redirect-uri "${bases[0]}/cb" --json)
  echo "[${client%\}},\"redirect_uri\":\"${bases[0]}/cb\",\"post_logout_redirect_uri\":\"${bases[0]}/bye\"}]" >"$work/clients.json"
  auth=$(node -e 'const c = require(process.argv[1])[0]; console.log(Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString("base64"))' "$work/clients.json")
  echo "minting $tokens + $((RATE * RATE_SECS)) tokens" >&2
  mint "$tokens" opaque >"$work/tokens-sat-$engine"
  deal "$work/tokens-sat-$engine"
  mint $((RATE * RATE_SECS)) opaque >"$work/tokens-rate-$engine"
  start
  MINT_PER_SIGNIN=1 node bench/oidc-flows.mjs mint signoff "${bases[0]}" "$work/clients.json" $((CONNECTIONS + 2 * THREADS * n + 8)) >"$work/refresh-$engine"
  deal "$work/refresh-$engine"
  node bench/oidc-flows.mjs mint signoff "${bases[0]}" "$work/clients.json" $((CONNECTIONS + 2 * THREADS * n + 8)) >"$work/refresh-shared-$engine"
  deal "$work/refresh-shared-$engine"
  # The login run's accounts: login-I-K@example.com for instance I (see bench/login.lua).
  for i in $(seq "$n"); do
    for k in $(seq $((LOGIN_ACCOUNTS / n))); do
      curl -fs -o /dev/null -H 'content-type: application/json' \
        -d "{\"email\":\"login-$i-$k@example.com\",\"password\":\"percore-password-0123\"}" "${bases[0]}/api/v1/account/register"
    done
  done
  stop
  # signoff-bench listens for revocations like an instance while it runs (PostgreSQL); let it go.
  sleep 2

  start
  measure "$engine-idle" -- sleep "$SECS"
  start
  wrk_script "$engine-logout" "$LOGOUT_SECS" "$CONNECTIONS" bench/tokens.lua DIALECT=002 TOKENS="$work/tokens-sat-$engine.@I"
  measure "$engine-logout" -- bash "$work/$engine-logout.sh"
  start
  # The load stops itself when its tokens run out (RATE × RATE_SECS of them), after the last answers.
  measure "$engine-rate" -- node bench/oidc-load.mjs "$(IFS=,; echo "${bases[*]}")" "$work/tokens-rate-$engine" "$RATE"
  start
  wrk_script "$engine-login" "$SECS" "$LOGIN_CONNECTIONS" bench/login.lua PREFIX=login-@I- ACCOUNTS=$((LOGIN_ACCOUNTS / n)) PASSWORD=percore-password-0123
  measure "$engine-login" -- bash "$work/$engine-login.sh"
  start
  wrk_script "$engine-refresh" "$SECS" "$CONNECTIONS" bench/oidc-refresh.lua TOKENS="$work/refresh-$engine.@I" AUTH="$auth" PATH_=/oauth/token
  measure "$engine-refresh" -- bash "$work/$engine-refresh.sh"
  start
  wrk_script "$engine-refresh-shared" "$SECS" "$CONNECTIONS" bench/oidc-refresh.lua TOKENS="$work/refresh-shared-$engine.@I" AUTH="$auth" PATH_=/oauth/token
  measure "$engine-refresh-shared" -- bash "$work/$engine-refresh-shared.sh"
done

python3 bench/percore_report.py "$work" "$ENGINES" "$SECS" "$LOGOUT_SECS" "$CONNECTIONS" "$LOGIN_CONNECTIONS" "$RATE" "$RATE_SECS" "$PG_INSTANCES"
echo
echo "server warnings (count, message):"
grep -hE ' WARN | ERROR ' "$work"/server-*.log 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g; s/^.* (WARN|ERROR) //' \
  | sort | uniq -c | sort -rn | head -5 || true
