#!/usr/bin/env bash
# What counting one request costs (requests counter + latency histogram): featureserver's
# per-loop relaxed atomics against swift-prometheus 2.x, from 1 and 2 threads at once (as 1 or 2
# event loops would), ROUNDS runs each, medians in ns per request per thread.
#   bench/metrics.sh          # ROUNDS=5 ITERATIONS=5000000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-5}
ITERATIONS=${ITERATIONS:-5000000}
swift build -c release --product metrics-bench >/dev/null
echo "# bench/metrics.sh $(date -u +%FT%TZ) $(nproc) cores, $ITERATIONS requests per thread, $ROUNDS rounds"
printf '| threads | per-loop atomics ns | swift-prometheus ns | ratio |\n|---|---|---|---|\n'
for threads in 1 2; do
  : >/tmp/metrics-bench.$$
  for _ in $(seq 1 "$ROUNDS"); do
    .build/release/metrics-bench --threads "$threads" --iterations "$ITERATIONS" >>/tmp/metrics-bench.$$
  done
  ours=$(awk '{print $1}' /tmp/metrics-bench.$$ | median)
  theirs=$(awk '{print $2}' /tmp/metrics-bench.$$ | median)
  awk -v t="$threads" -v a="$ours" -v b="$theirs" 'BEGIN { printf "| %d | %.1f | %.1f | %.1fx |\n", t, a, b, b / a }'
  rm -f /tmp/metrics-bench.$$
done
