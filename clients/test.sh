#!/usr/bin/env bash
# Runs the three client suites (JavaScript, Go, PHP) against a fresh Signoff server, whose logout
# events (webhooks) go to a verified receiver in each suite.
#
#   clients/test.sh
#
# Installs the missing Debian packages (as root), starts the already-built server binary
# (target/debug/signoff, or $SIGNOFF_BIN) on a free port with a fresh SQLite database, runs
# every suite with SIGNOFF_URL set, stops the server on exit, and exits non-zero if any suite
# failed. It never builds the server.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${SIGNOFF_BIN:-$root/target/debug/signoff}"

# --- Tools -----------------------------------------------------------------------------------
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v go >/dev/null || missing+=(golang-go)
if ! command -v php >/dev/null; then
  missing+=(php-cli php-curl)
elif ! php -r 'exit(extension_loaded("curl") ? 0 : 1);'; then
  missing+=(php-curl)
fi
command -v phpunit >/dev/null || missing+=(phpunit)
if ((${#missing[@]})); then
  echo "Installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "node (20 or later) is required" >&2; exit 1; }
[[ -x "$bin" ]] || { echo "$bin is missing: build the server first (cargo leptos build)" >&2; exit 1; }

# Go: standard library only, so no network and no toolchain download; a cache that works as root.
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=readonly
export GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/signoff-go-cache}"

# --- Server ----------------------------------------------------------------------------------
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free port: one nobody answers on (bash's /dev/tcp connect fails), and not one already taken.
taken=" "
free_port() {
  local candidate
  for _ in $(seq 50); do
    candidate=$((20000 + RANDOM % 40000))
    if [[ "$taken" != *" $candidate "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
      taken+="$candidate "
      echo "$candidate"
      return
    fi
  done
  echo "found no free port" >&2
  exit 1
}
port=$(free_port); taken+="$port "
url="http://127.0.0.1:$port"

# Each suite's verified webhook receiver listens on a port of its own; the server delivers every
# logout event to all three (signed with a secret made for this run).
export SIGNOFF_WEBHOOK_PORT_JS=$(free_port); taken+="$SIGNOFF_WEBHOOK_PORT_JS "
export SIGNOFF_WEBHOOK_PORT_GO=$(free_port); taken+="$SIGNOFF_WEBHOOK_PORT_GO "
export SIGNOFF_WEBHOOK_PORT_PHP=$(free_port); taken+="$SIGNOFF_WEBHOOK_PORT_PHP "
export SIGNOFF_WEBHOOK_SECRET="whsec_$(head -c 24 /dev/urandom | base64)"
hooks="http://127.0.0.1:$SIGNOFF_WEBHOOK_PORT_JS/hook,http://127.0.0.1:$SIGNOFF_WEBHOOK_PORT_GO/hook,http://127.0.0.1:$SIGNOFF_WEBHOOK_PORT_PHP/hook"

(
  cd "$root"
  exec env LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_OUTPUT_NAME=signoff LEPTOS_SITE_ROOT=target/site \
    DATABASE_URL="sqlite://$tmp/signoff.db?mode=rwc" RUST_LOG=warn SIGNOFF_WEBHOOK_URLS="$hooks" "$bin"
) >"$tmp/server.log" 2>&1 &
server_pid=$!

echo "Starting the server on $url"
deadline=$((SECONDS + 30))
until curl -fs -o /dev/null "$url/login"; do
  if ! kill -0 "$server_pid" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "The server exited or did not answer within 30 s. Its log:" >&2
    tail -n 20 "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
export SIGNOFF_URL="$url"

# --- Suites ----------------------------------------------------------------------------------
failed=()
run() {
  local name="$1"
  shift
  echo
  echo "=== $name: $*"
  if "$@"; then
    echo "=== $name: passed"
  else
    echo "=== $name: FAILED"
    failed+=("$name")
  fi
}

run JavaScript node --test --test-reporter=spec "$here/js/test/"
run Go bash -c 'cd "$1" && go test -count=1 -v ./...' _ "$here/go"
run PHP phpunit --configuration "$here/php/phpunit.xml"

echo
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All client suites passed."
