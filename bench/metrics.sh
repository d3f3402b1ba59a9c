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
swift build -c release --product micro-bench >/dev/null
echo "# bench/metrics.sh $(date -u +%FT%TZ) $(nproc) cores, $ITERATIONS requests per thread, $ROUNDS rounds"
pair_table metrics "per-loop atomics" "swift-prometheus" "$ROUNDS" "$ITERATIONS"
