#!/usr/bin/env bash
# start.sh PORT DATADIR: gunicorn (2 sync workers) on 127.0.0.1:PORT in the foreground, with the
# SQLite database DATADIR/db.sqlite3 (schema created if needed). SIGTERM stops it.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PORT DATADIR" >&2; exit 2; }
port=$1
mkdir -p "$2"
export PEER_DATADIR=$(cd "$2" && pwd)
cd "$(dirname "$0")"
export DJANGO_SETTINGS_MODULE=peer.settings PYTHONDONTWRITEBYTECODE=1
.venv/bin/python manage.py migrate --noinput -v 0
# No access log (gunicorn writes none unless asked); only warnings and errors on stderr.
exec .venv/bin/gunicorn peer.wsgi:application --workers 2 --worker-class sync \
  --bind "127.0.0.1:$port" --log-level warning
