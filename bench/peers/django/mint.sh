#!/usr/bin/env bash
# mint.sh PORT DATADIR COUNT: prints COUNT fresh refresh tokens of bench@example.com, one a line,
# each its own login (an OutstandingToken row). Writes the database directly; PORT is unused.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 PORT DATADIR COUNT" >&2; exit 2; }
mkdir -p "$2"
export PEER_DATADIR=$(cd "$2" && pwd)
cd "$(dirname "$0")"
export DJANGO_SETTINGS_MODULE=peer.settings PYTHONDONTWRITEBYTECODE=1
exec .venv/bin/python manage.py mint "$3"
