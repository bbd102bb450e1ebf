#!/usr/bin/env bash
# The dashboard's panels from a real run (issue 28): the release server with metrics on
# (SIGNOFF_METRICS_ADDR), a real Prometheus (Debian's) scraping it every second, two minutes of
# mixed traffic (bench/dashboard_traffic.py: logins and logouts in every dialect, refreshes, wrong
# passwords until 429, a webhook receiver that refuses), then every panel's queries of
# docs/dashboards/signoff.json asked of Prometheus's query API and plotted into
# docs/dashboards/panels.png (bench/dashboard_plot.py). Grafana itself is not in the registries
# here; the JSON imports into any Grafana with a Prometheus data source.
#
#   bench/dashboard.sh            # SQLite
#   BENCH_DASH_SECONDS=60 bench/dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# Production mode on plain http (loopback): said in so many words, as production requires.
export SIGNOFF_SECURE_COOKIES=false
# The rotation itself is measured: the per-sign-in refresh limit (60 a minute) is off.
export SIGNOFF_REFRESH_PER_MINUTE=0
scripts/setup >/dev/null
source scripts/env.sh
[ -x target/release/signoff ] || cargo leptos build --release >&2
.tools/venv/bin/python -c "import matplotlib" 2>/dev/null \
  || .tools/venv/bin/pip install --quiet --disable-pip-version-check matplotlib
SECONDS_OF_TRAFFIC=${BENCH_DASH_SECONDS:-120}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

SIGNOFF_METRICS_ADDR=127.0.0.1:9301 SIGNOFF_WEBHOOK_URLS=http://127.0.0.1:9/hook \
  SIGNOFF_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw \
  SIGNOFF_JWT_SECRET=dashboard-only-secret-not-for-production-0123456789 \
  LEPTOS_SITE_ADDR=127.0.0.1:3301 LEPTOS_OUTPUT_NAME=signoff LEPTOS_SITE_ROOT=target/site \
  LEPTOS_ENV=PROD SIGNOFF_OIDC_KEYS="$work/keys" DATABASE_URL="sqlite://$work/signoff.db?mode=rwc" RUST_LOG=warn \
  target/release/signoff >"$work/server.log" 2>&1 &
pids+=($!)
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: signoff
    static_configs:
      - targets: ["127.0.0.1:9301"]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9391 >"$work/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -s -o /dev/null http://127.0.0.1:3301/login && curl -s -o /dev/null http://127.0.0.1:9391/-/ready && break; sleep 0.1; done
start=$(date +%s)
.tools/venv/bin/python bench/dashboard_traffic.py http://127.0.0.1:3301 "$SECONDS_OF_TRAFFIC"
sleep 5
end=$(date +%s)
.tools/venv/bin/python bench/dashboard_plot.py http://127.0.0.1:9391 docs/dashboards/signoff.json \
  "$start" "$end" docs/dashboards/panels.png
echo "server warnings: $(grep -c WARN "$work/server.log" || true)" >&2
