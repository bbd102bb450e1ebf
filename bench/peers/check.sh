#!/usr/bin/env bash
# check.sh [PEER…]: end-to-end check of the peers (default: both). For each: setup, start on a
# loopback port with a temporary data dir, mint tokens, check that one logs out and cannot log out
# again, then run wrk with logout.lua and print its numbers. Stops what it started.
#   BENCH_TOKENS (3000), BENCH_SECONDS (5), BENCH_THREADS (2), BENCH_CONNECTIONS (64)
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
count=${BENCH_TOKENS:-3000} secs=${BENCH_SECONDS:-5} threads=${BENCH_THREADS:-2} conns=${BENCH_CONNECTIONS:-64}
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL $peer: $*" >&2; tail -5 "$work/$peer.log" >&2; exit 1; }

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(django better-auth)
for peer in "${peers[@]}"; do
  port=3901 probe=/api/ok/
  [ "$peer" = better-auth ] && port=3902 probe=/api/auth/ok
  base=http://127.0.0.1:$port
  "./$peer/setup.sh"
  "./$peer/start.sh" "$port" "$work/$peer" >"$work/$peer.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -fs -o /dev/null "$base$probe" && break; sleep 0.1; done
  curl -fs -o /dev/null "$base$probe" || fail "did not start"
  t=$("./$peer/mint.sh" "$port" "$work/$peer" 1)
  if [ "$peer" = django ]; then
    logout() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "{\"refresh\":\"$t\"}" "$base/api/logout/"; }
    [ "$(logout)" = 200 ] || fail "first logout refused"
    [ "$(logout)" = 401 ] || fail "second logout not refused"
  else
    # better-auth answers 200 to any sign-out; the session must be gone afterwards.
    session() { curl -s -H "Authorization: Bearer $t" "$base/api/auth/get-session"; }
    [ "$(session)" != null ] || fail "minted session not found"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $t" "$base/api/auth/sign-out")" = 200 ] || fail "sign-out refused"
    [ "$(session)" = null ] || fail "session still there after sign-out"
  fi
  echo "$peer: a minted credential logs out once, and no more"
  start=$(date +%s%N)
  "./$peer/mint.sh" "$port" "$work/$peer" "$count" >"$work/tokens"
  echo "$peer: minted $(wc -l <"$work/tokens") tokens in $((($(date +%s%N) - start) / 1000000)) ms"
  out=$(TOKENS=$work/tokens THREADS=$threads wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$peer/logout.lua" "$base")
  grep -E 'Requests/sec|Socket errors|Non-2xx|LUA-SUMMARY|^ +(50|99)%' <<<"$out" | sed "s/^/$peer: /"
  kill "$pid"; wait "$pid" || true; pid=
done
