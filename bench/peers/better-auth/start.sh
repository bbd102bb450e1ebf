#!/usr/bin/env bash
# start.sh PORT DATADIR: the better-auth server on 127.0.0.1:PORT in the foreground, with the
# SQLite database DATADIR/auth.sqlite3 (tables created if needed). SIGTERM stops it.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PORT DATADIR" >&2; exit 2; }
mkdir -p "$2"
datadir=$(cd "$2" && pwd)
cd "$(dirname "$0")"
NODE_ENV=production exec node server.mjs "$1" "$datadir"
