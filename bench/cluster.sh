#!/usr/bin/env bash
# What routing over a Redis Cluster costs: GET /features/customer/<random id> and POST /predict with
# the cache off (every request reads Redis), featureserver over one redis-server ("single"), over a
# local 3-primary + 3-replica cluster (scripts/redis-cluster.sh, "cluster") and over a one-node
# cluster holding every slot ("cluster1": the routing code and nothing else, one redis-server as
# in "single"), all loaded with the bundled data, same machine, same wrk Lua scripts, alternating
# round by round; medians and ratios at the end. Goal (issue 14): cluster req/s >= 0.9x single
# Redis, p99 within 1.2x. On a 2-core box the 3-primary cluster also measures three redis-servers
# sharing the cores with the server and wrk; "cluster1" isolates the cost of routing.
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
# A one-node cluster: cluster mode on, every slot on one redis-server. Its port is picked like the
# block above: an ephemeral port from free_port can be above 55535, and its bus port (+10000)
# would not exist.
while :; do
  one=$((20000 + RANDOM % 30000))
  (exec 3<>"/dev/tcp/127.0.0.1/$one") 2>/dev/null || (exec 3<>"/dev/tcp/127.0.0.1/$((one + 10000))") 2>/dev/null ||
    break
done
mkdir -p "$work/cluster1"
redis-server --port "$one" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf --save '' \
  --appendonly no --dir "$work/cluster1" --daemonize no --loglevel warning >"$work/cluster1.log" 2>&1 &
pids+=($!)
wait_for_port "$one"
redis-cli -p "$one" cluster addslotsrange 0 16383 >/dev/null
until redis-cli -p "$one" cluster info | grep -q 'cluster_state:ok'; do sleep 0.1; done
for url in "$cluster_url" "redis+cluster://127.0.0.1:$one"; do
  for table in customers:customer accounts:account merchants:merchant; do
    .build/release/featureserver load --redis-url "$url" --entity "${table#*:}" \
      --shift-timestamps-to-now "data/${table%%:*}.csv" >/dev/null 2>&1
  done
done

start_ours single --cache-ttl 0
# start_ours points at the single Redis; a later --redis-url wins.
start_ours cluster --cache-ttl 0 --redis-url "$cluster_url"
start_ours cluster1 --cache-ttl 0 --redis-url "redis+cluster://127.0.0.1:$one"
names=(single cluster cluster1)
for name in "${names[@]}"; do  # check the answers, then warm up
  body=$(curl -s "http://127.0.0.1:${ports[$name]}/features/customer/42")
  case "$body" in *'"status":"PRESENT"'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s bench/lua/features.lua "http://127.0.0.1:${ports[$name]}" >/dev/null
done
curl -s "http://127.0.0.1:${ports[cluster]}/metrics" | grep -q 'featureserver_redis_cluster_slots_served 16384' ||
  { echo "the cluster server does not serve every slot" >&2; exit 1; }

echo "# bench/cluster.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, cache off, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
# CPU ticks (1/100 s) used so far by PIDS, summed.
ticks() { for pid in "$@"; do awk '{ print $14 + $15 }' "/proc/$pid/stat"; done | awk '{ s += $1 } END { print s + 0 }'; }
# measured NAME ROUTE SCRIPT: one wrk run, then "NAME-ROUTE-cpu server_us redis_us": CPU time per
# request of the featureserver process and of every redis-server on the box (the idle ones
# cost the same in every case).
measured() {
  local name=$1 route=$2 line before_server before_redis seconds
  before_server=$(ticks "${server_pid[$name]}")
  before_redis=$(ticks $(pgrep -x redis-server))
  line=$(run_wrk "$name-$route" -t1 -c"$CONNECTIONS" -d"$DURATION" -s "bench/lua/$3" "http://127.0.0.1:${ports[$name]}")
  echo "$line" | tee -a "$work/results"
  seconds=${DURATION%s}
  echo "$line $(ticks "${server_pid[$name]}") $before_server $(ticks $(pgrep -x redis-server)) $before_redis" |
    awk -v n="$name-$route-cpu" -v s="$seconds" '{ r = $2 * s; printf "%s %.1f %.1f\n", n, ($7 - $8) * 10000 / r, ($9 - $10) * 10000 / r }' |
    tee -a "$work/results"
}
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    measured "$name" features features.lua
    measured "$name" predict predict.lua
  done
done
summarize single-features cluster-features cluster1-features single-predict cluster-predict cluster1-predict
for route in features predict; do
  for name in cluster cluster1; do
    a=$(awk -v s="$name-$route" '$1 == s {print $2}' "$work/results" | median)
    b=$(awk -v s="single-$route" '$1 == s {print $2}' "$work/results" | median)
    c=$(awk -v s="$name-$route" '$1 == s {print $4}' "$work/results" | median)
    d=$(awk -v s="single-$route" '$1 == s {print $4}' "$work/results" | median)
    awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$name" -v r="$route" \
      'BEGIN { printf "%s / single, %s: %.2fx req/s, %.2fx p99\n", n, r, a / b, c / d }'
  done
done
echo "CPU per request (µs, medians): featureserver / every redis-server"
for route in features predict; do
  for name in "${names[@]}"; do
    printf '%s-%s: %s / %s\n' "$name" "$route" \
      "$(awk -v s="$name-$route-cpu" '$1 == s {print $2}' "$work/results" | median)" \
      "$(awk -v s="$name-$route-cpu" '$1 == s {print $3}' "$work/results" | median)"
  done
done
curl -s "http://127.0.0.1:${ports[cluster]}/metrics" | grep -E '^featureserver_redis_cluster_redirects_total'
