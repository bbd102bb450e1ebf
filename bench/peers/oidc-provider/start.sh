#!/usr/bin/env bash
# start.sh PORT RECEIVER_BASE_PORT: the oidc-provider peer on 127.0.0.1:PORT in the foreground
# (storage in memory: nothing survives it). Its clients bench-0…9 send back-channel logout tokens
# to 127.0.0.1:RECEIVER_BASE_PORT+i. SIGTERM stops it.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PORT RECEIVER_BASE_PORT" >&2; exit 2; }
cd "$(dirname "$0")"
NODE_ENV=production exec node provider.mjs "$1" "$2"
