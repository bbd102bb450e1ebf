#!/usr/bin/env bash
# mint.sh PORT DATADIR COUNT: prints COUNT fresh session tokens of bench@example.com, one a line,
# each its own session row. Writes the database directly; PORT only sets better-auth's baseURL.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PORT DATADIR COUNT" >&2; exit 2; }
mkdir -p "$2"
datadir=$(cd "$2" && pwd)
cd "$(dirname "$0")"
NODE_ENV=production exec node mint.mjs "$1" "$datadir" "$3"
