#!/usr/bin/env bash
# Installs the better-auth peer into node_modules from package-lock.json; does nothing when already
# done. better-sqlite3 compiles from source when no prebuilt binary can be downloaded (needs
# python3, make and g++; takes a couple of minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.package-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
