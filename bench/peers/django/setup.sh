#!/usr/bin/env bash
# Installs the Django peer into .venv (pinned in requirements.txt); does nothing when already done.
set -euo pipefail
cd "$(dirname "$0")"
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/gunicorn ]; then exit 0; fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
echo "$want" >"$stamp"
