#!/usr/bin/env bash
# A cache hit on the request path: per-loop FeatureCaches against one shared cache of 16
# mutex-guarded shards (the same FeatureCache inside), from 1 and 2 threads at once (as 1 or 2
# event loops would), ROUNDS runs each, medians in ns per lookup per thread.
#   bench/cache.sh          # ROUNDS=5 ITERATIONS=3000000
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-5}
ITERATIONS=${ITERATIONS:-3000000}
swift build -c release --product micro-bench >/dev/null
echo "# bench/cache.sh $(date -u +%FT%TZ) $(nproc) cores, $ITERATIONS lookups per thread, $ROUNDS rounds"
pair_table cache "per-loop" "shared sharded" "$ROUNDS" "$ITERATIONS"
