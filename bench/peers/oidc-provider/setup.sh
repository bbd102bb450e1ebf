#!/usr/bin/env bash
# Installs the oidc-provider peer into node_modules from package-lock.json; does nothing when
# already done (needs the npm registry once; no native modules).
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.package-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/oidc-provider ]; then exit 0; fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
