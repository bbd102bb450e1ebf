#!/usr/bin/env bash
# Issue 28, "growth": does Signoff stay as fast and as small with a million sign-ins? Memory and
# start-up time (process start → /readyz answers 200), and logout and `me` throughput, as the
# database grows: 0, then 1k, 100k and 1M active sign-ins seeded beside as many denied JWTs
# (flat is the goal).
#
# The rows are seeded with SQL (bench/growth_seed.sh: the sqlite3 CLI with a recursive CTE,
# psql with generate_series), mirroring the tables of migrations/: per seeded sign-in a `signins`
# row (kind `token`, used within the hour) and its opaque token's `tokens` row (a random digest),
# one user per 10 sign-ins; and `jwt_denylist` rows expiring within the hour (every one of them
# loaded into the server's memory at start). At each size, on a freshly started server:
#   - start-up time and resident memory (bench/startup.py), and memory again after the runs;
#   - `me` with one opaque token (a cached read), with one JWT (the in-memory denylist), and with a
#     fresh opaque token per request (each a database read), wrk, BENCH_GROWTH_SECONDS each;
#   - logout, seed 002, a fresh token per request, wrk, BENCH_GROWTH_LOGOUT_SECONDS.
# The tokens these runs use are minted by signoff-bench (bench@example.com) and are sign-ins too:
# the table says how many sign-ins were active in all at the start of the runs.
#
#   SIGNOFF_BIN=/tmp/rel/signoff SIGNOFF_SITE=/tmp/rel/site SIGNOFF_BENCH_BIN=/tmp/rel/signoff-bench bench/growth.sh
#   … BENCH_GROWTH_LEVELS="1000 10000" BENCH_GROWTH_SECONDS=1 bench/growth.sh   # a smoke run
#
# Environment (defaults in brackets):
#   SIGNOFF_BIN [target/release/signoff], SIGNOFF_SITE [target/site], SIGNOFF_BENCH_BIN
#     [target/bench-tools/signoff-bench]
#   BENCH_GROWTH_ENGINES ["sqlite"] (or "sqlite postgres")
#   BENCH_GROWTH_LEVELS ["1000 100000 1000000"]: seeded sign-ins (and denied JWTs) per step
#   BENCH_GROWTH_SECONDS [3], BENCH_GROWTH_LOGOUT_SECONDS [2]: the wrk runs (2 threads,
#     BENCH_CONNECTIONS [64] connections)
#   BENCH_GROWTH_TOKENS [60000], BENCH_GROWTH_ME_TOKENS [20000]: fresh tokens minted per size for
#     the logout run and for the fresh-token `me` run (a run that runs out shows non-2xx, and its
#     figure is void). What a size's runs leave unused is ended (SQL, the server stopped) before
#     the next size, so that only the seeded rows accumulate.
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]; BENCH_GROWTH_PORT [4131]
#   BENCH_KEEP: keep the work directory (the database, the servers' logs) and say where
# The servers' warnings are counted at the end; on PostgreSQL they include a 503 for every /readyz
# poll (every 2 ms) before the server's denylist is complete.
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
ENGINES=${BENCH_GROWTH_ENGINES:-sqlite}
LEVELS=${BENCH_GROWTH_LEVELS:-1000 100000 1000000}
SECS=${BENCH_GROWTH_SECONDS:-3}
LOGOUT_SECS=${BENCH_GROWTH_LOGOUT_SECONDS:-2}
TOKENS=${BENCH_GROWTH_TOKENS:-60000}
ME_TOKENS=${BENCH_GROWTH_ME_TOKENS:-20000}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=2
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=${BENCH_GROWTH_PORT:-4131}
base=http://127.0.0.1:$PORT
for f in "$BIN" "$BENCH_BIN"; do [ -x "$f" ] || { echo "no executable at $f (SIGNOFF_BIN, SIGNOFF_BENCH_BIN)" >&2; exit 1; }; done
[ -d "$SITE" ] || { echo "no site root at $SITE (SIGNOFF_SITE)" >&2; exit 1; }

work=$(mktemp -d)
server=
pg_db=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$pg_db" ] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export SIGNOFF_OIDC_KEYS=$work/oidc-keys
export SIGNOFF_SQLITE_SYNCHRONOUS=full LEPTOS_ENV=PROD LEPTOS_SITE_ADDR=127.0.0.1:$PORT LEPTOS_SITE_ROOT=$SITE \
  LEPTOS_OUTPUT_NAME=signoff RUST_LOG=warn

# start: the server, timed until /readyz answers 200; "ready_ms rss_kb" into $started.
start() {
  local j
  j=$(python3 bench/startup.py "$BIN" "$PORT" "$work/server-$engine.log")
  server=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$j")
  started=$(python3 -c 'import json,sys; j = json.loads(sys.argv[1]); print(j["ready_ms"], j["rss_kb"])' "$j")
}
# The server is not this shell's child (bench/startup.py started it): wait by polling.
stop() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  while kill -0 "$server" 2>/dev/null; do sleep 0.05; done
  server=
}
rss() { python3 bench/startup.py --rss "$server" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rss_kb"])'; }
mint() {
  if [ "$engine" = sqlite ] || [ "$1" -lt 100 ]; then
    SIGNOFF_SQLITE_SYNCHRONOUS=normal PGOPTIONS='-c synchronous_commit=off' LEPTOS_ENV=DEV "$BENCH_BIN" mint --email bench@example.com --count "$1" --kind "$2"
  else
    local m per=$(( ($1 + 3) / 4 )) ms=()
    # The account first, alone (four processes registering it at once would race).
    PGOPTIONS='-c synchronous_commit=off' RUST_LOG=warn "$BENCH_BIN" mint --email bench@example.com --count 1 --kind opaque >/dev/null
    for m in 1 2 3 4; do
      PGOPTIONS='-c synchronous_commit=off' LEPTOS_ENV=DEV "$BENCH_BIN" mint --email bench@example.com --count "$per" --kind "$2" >"$work/mint-$m" &
      ms+=($!)
    done
    wait "${ms[@]}"
    cat "$work"/mint-[1-4]
  fi
}
# sql STATEMENT: one answer from the database, as text.
sql() {
  if [ "$engine" = sqlite ]; then sqlite3 "$dbfile" "$1"; else psql "$DATABASE_URL" -XAtqc "$1"; fi
}
# wrkrun SECONDS SCRIPT [ENV=VALUE…]: "2xx/s p99_ms non2xx" of one run.
wrkrun() {
  local secs=$1 script=$2 out
  shift 2
  out=$(env THREADS="$THREADS" "$@" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --latency -s "$script" "$base")
  python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
m = re.search(r"LUA-SUMMARY requests=(\d+) non2xx=(\d+) p50_us=(\d+) p99_us=(\d+)", t)
if not m:  # wrk failed: no figure
    print("0 – wrk-failed")
    sys.exit()
rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", t, re.M).group(1))
req, bad = int(m.group(1)), int(m.group(2))
print(f"{rps * (req - bad) / req if req else 0:.0f} {int(m.group(4)) / 1000:.2f} {bad}")
PY
}

rows=()
for engine in $ENGINES; do
  if [ "$engine" = sqlite ]; then
    dbfile=$work/growth.db
    export DATABASE_URL="sqlite://$dbfile?mode=rwc"
    label="SQLite (FULL)"
  else
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "no PostgreSQL at 127.0.0.1:5432: skipping it" >&2; continue; }
    pg_db=signoff_growth_$$
    psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
    export DATABASE_URL="${PG_ADMIN%/*}/$pg_db"
    label="PostgreSQL 15"
  fi
  echo "== $engine" >&2
  # The schema and the benchmark's account (signoff-bench migrates as the server does).
  mint 1 opaque >/dev/null
  start
  rows+=("| $label | 0 | 0 | $(sql "SELECT count(*) FROM signins WHERE ended_at IS NULL") | ${started% *} | $(( ${started#* } / 1024 )) | – | – | – | – | – |")
  stop
  seeded=0
  for level in $LEVELS; do
    echo "seeding up to $level sign-ins and denied JWTs" >&2
    t=$(date +%s.%N)
    bench/growth_seed.sh "$engine" "${dbfile:-$DATABASE_URL}" "$seeded" "$level"
    echo "seeded in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s" >&2
    seeded=$level
    start
    boot=$started
    echo "start-up: ${boot% *} ms, RSS ${boot#* } kB" >&2
    mint "$TOKENS" opaque >"$work/logout-tokens"
    mint "$ME_TOKENS" opaque >"$work/me-tokens"
    opaque=$(mint 1 opaque)
    jwt=$(mint 1 jwt | cut -d' ' -f1)
    [ "$engine" = postgres ] && sleep 2   # signoff-bench was an instance while it ran (see bench/run.sh)
    active=$(sql "SELECT count(*) FROM signins WHERE ended_at IS NULL")
    denied=$(sql "SELECT count(*) FROM jwt_denylist")
    me_opaque=$(wrkrun "$SECS" bench/bearer.lua TOKEN="$opaque")
    me_jwt=$(wrkrun "$SECS" bench/bearer.lua TOKEN="$jwt")
    me_fresh=$(wrkrun "$SECS" bench/tokens.lua DIALECT=me TOKENS="$work/me-tokens")
    logout=$(wrkrun "$LOGOUT_SECS" bench/tokens.lua DIALECT=002 TOKENS="$work/logout-tokens")
    after=$(rss)
    echo "me opaque: $me_opaque; me JWT: $me_jwt; me fresh: $me_fresh; logout: $logout (2xx/s p99 non-2xx); RSS after $after kB" >&2
    cell() { set -- $1; printf '%s (p99 %s ms%s)' "$1" "$2" "$([ "$3" = 0 ] || echo ", $3 non-2xx")"; }
    rows+=("| $label | $level | $denied | $active | ${boot% *} | $(( ${boot#* } / 1024 )) | $(( after / 1024 )) | $(cell "$me_opaque") | $(cell "$me_jwt") | $(cell "$me_fresh") | $(cell "$logout") |")
    stop
    # The minted tokens left unused end here, as a logout would have ended them.
    sql "UPDATE signins SET ended_at = $(date +%s), end_reason = 'logout' WHERE user_agent = 'signoff-bench mint' AND ended_at IS NULL" >/dev/null
  done
  unset dbfile
done

echo
echo "#### Growth (wrk -t2 -c$CONNECTIONS; \`me\` runs $SECS s, logout runs $LOGOUT_SECS s; each size on a freshly started server)"
echo
echo "*Seeded*: sign-ins seeded with SQL, and as many denied JWTs (*denylist rows*). *Active at the runs' start*: every sign-in not ended, the runs' own minted tokens included. Throughput in 2xx answers/s."
echo
echo "| engine | seeded sign-ins | denylist rows | active at the runs' start | start-up ms (→ /readyz 200) | RSS at ready MiB | RSS after the runs MiB | \`me\`, one opaque token (cached) | \`me\`, one JWT | \`me\`, a fresh opaque token each | logout seed 002 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "server warnings (count, message):"
grep -hE ' WARN | ERROR ' "$work"/server-*.log 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g; s/^.* (WARN|ERROR) //' \
  | sort | uniq -c | sort -rn | head -5 || true
