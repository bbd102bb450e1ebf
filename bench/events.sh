#!/usr/bin/env bash
# The `/events` load test (issue 27): many open pages, then "Log out everywhere" for every account,
# and whether every page hears it within 2 s. The release server on loopback in production mode, on
# SQLite (or PostgreSQL with BENCH_EVENTS_DB=postgres), and bench/events-load.mjs as the browsers:
#
# - 500 accounts, each signed in once through the login form (one browser each: 500 sign-ins), each
#   sign-in with 10 `/events` streams open (its tabs): 5,000 streams, each its own connection;
# - the server's resident memory (VmRSS) before the first stream, at half and with all open;
# - every account's "Log out everywhere" (`POST /_fn/logout_everywhere` with its browser's session
#   cookie, what the button on /sessions posts), all 500 at once; for each stream the time from its
#   account's request to its `signed-out` event, p50/p99/max, how many within 2 s, any never told.
# Prints Markdown tables and whether "every stream told within 2 s" was met.
#
#   bench/events.sh                                   # release build: target/release/signoff
#   SIGNOFF_BIN=/tmp/rel/signoff SIGNOFF_SITE=/tmp/rel/site bench/events.sh
#   BENCH_EVENTS_DB=postgres bench/events.sh          # PostgreSQL at 127.0.0.1:5432 (user postgres)
#   BENCH_EVENTS_USERS=4 BENCH_EVENTS_TABS=5 bench/events.sh   # a smoke run
#
# Environment (defaults in brackets):
#   SIGNOFF_BIN [target/release/signoff], SIGNOFF_SITE [target/site]: the server and its site root
#   BENCH_EVENTS_DB [sqlite]: sqlite, or postgres (a database created for the run and dropped after)
#   BENCH_PG_URL [postgres://postgres@127.0.0.1:5432/postgres]: where to create it
#   BENCH_EVENTS_USERS [500]: accounts; BENCH_EVENTS_SIGNINS [1]: sign-ins (browsers) per account;
#   BENCH_EVENTS_TABS [10]: streams per sign-in (at most 32, the server's cap per sign-in)
#   BENCH_EVENTS_TIMEOUT [30]: seconds after the last logout a silent stream counts as never told
#   BENCH_EVENTS_PORT [4210]: the server's port (4200–4298); its metrics listener is the next one
#   SIGNOFF_EVENTS_PER_USER, SIGNOFF_EVENTS_MAX, SIGNOFF_MAX_CONNECTIONS: passed through; by default
#     raised only where the run needs it (the defaults, 256 per user and 10,000 per instance, hold
#     5,000 streams of 10 per account)
#   SIGNOFF_SQLITE_SYNCHRONOUS [full, the server's default] is passed through to the server.
# Everything listens on 127.0.0.1 and is stopped at exit; nothing is built.
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires.
export SIGNOFF_SECURE_COOKIES=false
command -v node >/dev/null || { echo "node is needed (bench/events-load.mjs)" >&2; exit 1; }

BIN=$(realpath -m "${SIGNOFF_BIN:-target/release/signoff}")
SITE=$(realpath -m "${SIGNOFF_SITE:-target/site}")
DB=${BENCH_EVENTS_DB:-sqlite}
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
USERS=${BENCH_EVENTS_USERS:-500}
SIGNINS=${BENCH_EVENTS_SIGNINS:-1}
TABS=${BENCH_EVENTS_TABS:-10}
TIMEOUT=${BENCH_EVENTS_TIMEOUT:-30}
PORT=${BENCH_EVENTS_PORT:-4210}
METRICS_PORT=$((PORT + 1))
STREAMS=$((USERS * SIGNINS * TABS))
[ -x "$BIN" ] || { echo "no server binary at $BIN (SIGNOFF_BIN)" >&2; exit 1; }
[ -d "$SITE" ] || { echo "no site root at $SITE (SIGNOFF_SITE)" >&2; exit 1; }
[ "$PORT" -ge 4200 ] && [ "$PORT" -le 4298 ] || { echo "BENCH_EVENTS_PORT must be 4200–4298" >&2; exit 1; }
[ "$TABS" -le 32 ] || { echo "BENCH_EVENTS_TABS: the server allows 32 streams per sign-in" >&2; exit 1; }
case $DB in sqlite | postgres) ;; *) echo "BENCH_EVENTS_DB is sqlite or postgres" >&2; exit 1 ;; esac

# One socket per stream on each side (this shell's children: the server and the client), plus the
# set-up's and the logouts' connections, the database's and the server's own files.
need=$((STREAMS + USERS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "open files: $need needed, the hard limit is $hard (ulimit -Hn)" >&2
    exit 1
  fi
  ulimit -n "$need"
fi

# The caps: a stream past any of them is refused (429), so raise those the run would pass.
per_user=$((SIGNINS * TABS))
export SIGNOFF_EVENTS_PER_USER=${SIGNOFF_EVENTS_PER_USER:-$((per_user > 256 ? per_user : 256))}
export SIGNOFF_EVENTS_MAX=${SIGNOFF_EVENTS_MAX:-$((STREAMS > 10000 ? STREAMS : 10000))}
export SIGNOFF_MAX_CONNECTIONS=${SIGNOFF_MAX_CONNECTIONS:-$((STREAMS + USERS + 100 > 10000 ? STREAMS + USERS + 100 : 10000))}

work=$(mktemp -d)
server=
pg_db=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "$PORT" "$METRICS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p is taken (BENCH_EVENTS_PORT)" >&2; exit 1; fi
done

# Production mode: the JWT secret and the OpenID keys' directory are required.
export SIGNOFF_JWT_SECRET=${SIGNOFF_JWT_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export SIGNOFF_OIDC_KEYS=$work/oidc-keys
export SIGNOFF_PUBLIC_URL=http://127.0.0.1:$PORT
if [ "$DB" = postgres ]; then
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "no PostgreSQL at 127.0.0.1:5432" >&2; exit 1; }
  pg_db=signoff_events_$$
  psql "$PG_ADMIN" -qc "CREATE DATABASE $pg_db" >/dev/null
  export DATABASE_URL="${PG_ADMIN%/*}/$pg_db"
  label="PostgreSQL $(psql "$PG_ADMIN" -Atc 'SHOW server_version' | cut -d' ' -f1), one instance"
else
  export DATABASE_URL="sqlite://$work/signoff.db?mode=rwc"
  label="SQLite (synchronous=${SIGNOFF_SQLITE_SYNCHRONOUS:-full})"
fi
base=$SIGNOFF_PUBLIC_URL

echo "starting Signoff ($BIN) at $base on $DB; caps: $SIGNOFF_EVENTS_PER_USER per user, $SIGNOFF_EVENTS_MAX per instance, $SIGNOFF_MAX_CONNECTIONS connections; open files $(ulimit -n)" >&2
LEPTOS_ENV=PROD LEPTOS_SITE_ADDR=127.0.0.1:$PORT LEPTOS_SITE_ROOT=$SITE LEPTOS_OUTPUT_NAME=signoff RUST_LOG=warn \
  SIGNOFF_METRICS_ADDR=127.0.0.1:$METRICS_PORT "$BIN" >>"$work/signoff.log" 2>&1 &
server=$!
for _ in $(seq 600); do curl -fs -o /dev/null "$base/healthz" && break; sleep 0.1; done
curl -fs -o /dev/null "$base/healthz" || { echo "nothing answers at $base" >&2; tail -5 "$work/signoff.log" >&2; exit 1; }

status=0
node bench/events-load.mjs "$base" "$server" "$USERS" "$SIGNINS" "$TABS" "$TIMEOUT" "$label" \
  "http://127.0.0.1:$METRICS_PORT/metrics" || status=$?
echo
echo "server warnings (count, message):"
grep -hE ' WARN | ERROR ' "$work/signoff.log" 2>/dev/null | sed -E 's/\x1b\[[0-9;]*m//g; s/^.* (WARN|ERROR) //' \
  | sort | uniq -c | sort -rn | head -5 || true
exit "$status"
