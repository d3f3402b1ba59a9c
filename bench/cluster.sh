#!/usr/bin/env bash
# What routing over a Redis Cluster costs: GET /features/customer/<random id> and POST /predict with
# the cache off (every request reads Redis), featureserver over one redis-server and over a local
# 3-primary + 3-replica cluster (scripts/redis-cluster.sh), both loaded with the bundled data, same
# machine, same wrk Lua scripts, alternating round by round; medians and ratios at the end.
# Goal (issue 14): cluster req/s >= 0.9x single Redis, p99 within 1.2x.
#
#   bench/cluster.sh                      # CONNECTIONS=100 DURATION=20s ROUNDS=3 THREADS=1
#   ROUNDS=5 DURATION=10s bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}
SKIP_REFERENCE=1

work=$(mktemp -d)
. bench/stack.sh
cluster_cleanup() {
  scripts/redis-cluster.sh stop "$work/cluster" || true
  stack_cleanup
}
trap cluster_cleanup EXIT
stack_setup  # builds the release binary and starts the single Redis, loaded

# A free block of 6 ports whose cluster-bus ports (+10000) are free too.
while :; do
  first=$((20000 + RANDOM % 30000))
  busy=0
  for port in $(seq "$first" $((first + 5))) $(seq $((first + 10000)) $((first + 10005))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then busy=1; fi
  done
  [ "$busy" = 0 ] && break
done
cluster_url=$(scripts/redis-cluster.sh start "$work/cluster" "$first")
for table in customers:customer accounts:account merchants:merchant; do
  .build/release/featureserver load --redis-url "$cluster_url" --entity "${table#*:}" \
    --shift-timestamps-to-now "data/${table%%:*}.csv" >/dev/null 2>&1
done

start_ours single --cache-ttl 0
# start_ours points at the single Redis; a later --redis-url wins.
start_ours cluster --cache-ttl 0 --redis-url "$cluster_url"
for name in single cluster; do  # check the answers, then warm up
  body=$(curl -s "http://127.0.0.1:${ports[$name]}/features/customer/42")
  case "$body" in *'"status":"PRESENT"'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s bench/lua/features.lua "http://127.0.0.1:${ports[$name]}" >/dev/null
done
curl -s "http://127.0.0.1:${ports[cluster]}/metrics" | grep -q 'featureserver_redis_cluster_slots_served 16384' ||
  { echo "the cluster server does not serve every slot" >&2; exit 1; }

echo "# bench/cluster.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, cache off, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in single cluster; do
    run_wrk "$name-features" -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/lua/features.lua \
      "http://127.0.0.1:${ports[$name]}" | tee -a "$work/results"
    run_wrk "$name-predict" -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/lua/predict.lua \
      "http://127.0.0.1:${ports[$name]}" | tee -a "$work/results"
  done
done
summarize single-features cluster-features single-predict cluster-predict
ratio cluster-features single-features
ratio cluster-predict single-predict
for route in features predict; do
  a=$(awk -v s="cluster-$route" '$1 == s {print $4}' "$work/results" | median)
  b=$(awk -v s="single-$route" '$1 == s {print $4}' "$work/results" | median)
  awk -v a="$a" -v b="$b" -v r="$route" 'BEGIN { printf "p99 cluster / single, %s: %.2fx\n", r, a / b }'
done
curl -s "http://127.0.0.1:${ports[cluster]}/metrics" | grep -E '^featureserver_redis_cluster_redirects_total'
