#!/usr/bin/env bash
# Issue 28's benchmark, "the numbers nobody publishes", in one go: bench/channels.sh (logout →
# every channel told, under 1,000 background logouts/s), bench/percore.sh (logouts, password logins
# and refreshes per core; database writes per 100 logouts) and bench/growth.sh (memory, start-up
# and throughput at 1k, 100k and 1M sign-ins). Prints their Markdown tables, each after the date,
# the machine and the command that made it. See each script's head for its knobs; they pass
# through.
#
#   SIGNOFF_BIN=/tmp/rel/signoff SIGNOFF_SITE=/tmp/rel/site SIGNOFF_BENCH_BIN=/tmp/rel/signoff-bench \
#     bench/unpublished.sh 2>bench.log | tee bench.md
#   BENCH_PARTS="growth" bench/unpublished.sh          # one part only (channels, percore, growth)
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${BENCH_PARTS:-channels percore growth}
echo "Run on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr), PostgreSQL $(psql -V | awk '{print $3}'), load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Server: ${SIGNOFF_BIN:-target/release/signoff} ($(stat -c %s "${SIGNOFF_BIN:-target/release/signoff}") bytes, modified $(date -u -r "${SIGNOFF_BIN:-target/release/signoff}" '+%Y-%m-%d %H:%M UTC'))."
for part in $PARTS; do
  echo
  echo "### bench/$part.sh"
  echo
  t=$SECONDS
  "bench/$part.sh"
  echo
  echo "(bench/$part.sh took $((SECONDS - t)) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg).)"
done
