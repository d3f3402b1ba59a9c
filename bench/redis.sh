#!/usr/bin/env bash
# RedisPool against redis-benchmark, side by side in one run on a private redis-server: GET of a
# 100-byte value and HGETALL of an 8-field customer hash, 50 connections, 50 commands in flight
# (redis-benchmark -c 50: one each), $ROUNDS rounds alternating. A last row shows the pool with
# 200 in flight (pipelining over the same 50 connections).
#
#   bench/redis.sh          # defaults: SECONDS_PER_RUN=10 ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
  echo "needs redis-server and redis-benchmark: apt-get install -y redis-server" >&2
  exit 2
}
swift build -c release --product redis-pool-bench >/dev/null
work=$(mktemp -d)
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --loglevel warning >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$port"
redis-cli -p "$port" SET bench:value "$(head -c 100 /dev/zero | tr '\0' v)" >/dev/null
redis-cli -p "$port" HSET fs:customer:42 age 41 tenure_days 1200 avg_amount 57.25 std_amount 31.5 \
  tx_count_30d 48 chargebacks_90d 0 country US segment premium _ts 1700000000 >/dev/null

# redis-benchmark prints "throughput summary: N requests per second" and a latency table
# (avg min p50 p95 p99 max, ms) in its summary.
run_redis_benchmark() {
  local label=$1
  shift
  local requests=$((SECONDS_PER_RUN * 60000))
  local out
  out=$(redis-benchmark -p "$port" -c 50 -n "$requests" "$@" 2>/dev/null | tr '\r' '\n')
  local rps p50 p99
  rps=$(echo "$out" | awk '/throughput summary/ {print $3}' | tail -n 1)
  read -r p50 p99 < <(echo "$out" | awk '/latency summary/ {getline; getline; print $3, $5}' | tail -n 1)
  echo "$label $rps $p50 $p99 0"
}

run_pool() {
  local label=$1 in_flight=$2
  shift 2
  echo "$label $(.build/release/redis-pool-bench --url "redis://127.0.0.1:$port" --pool-size 50 \
    --in-flight "$in_flight" --threads 1 --seconds "$SECONDS_PER_RUN" --command "$*")"
}

echo "# bench/redis.sh $(date -u +%FT%TZ) $(nproc) cores, $SECONDS_PER_RUN s per run, $ROUNDS rounds"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  run_pool pool-get 50 GET bench:value | tee -a "$work/results"
  run_redis_benchmark redis-benchmark-get GET bench:value | tee -a "$work/results"
  run_pool pool-hgetall 50 HGETALL fs:customer:42 | tee -a "$work/results"
  run_redis_benchmark redis-benchmark-hgetall HGETALL fs:customer:42 | tee -a "$work/results"
  run_pool pool-get-200-in-flight 200 GET bench:value | tee -a "$work/results"
done
printf '\n| client | ops/s (median) | p50 ms | p99 ms |\n|---|---|---|---|\n'
for label in pool-get redis-benchmark-get pool-hgetall redis-benchmark-hgetall pool-get-200-in-flight; do
  rps=$(awk -v l=$label '$1 == l {print $2}' "$work/results" | median)
  p50=$(awk -v l=$label '$1 == l {print $3}' "$work/results" | median)
  p99=$(awk -v l=$label '$1 == l {print $4}' "$work/results" | median)
  printf '| %s | %s | %s | %s |\n' $label "$rps" "$p50" "$p99"
  echo "$label $rps" >>"$work/medians"
done
awk '{ m[$1] = $2 } END {
  printf "\nratio pool/redis-benchmark: GET %.2f, HGETALL %.2f\n", m["pool-get"] / m["redis-benchmark-get"], m["pool-hgetall"] / m["redis-benchmark-hgetall"] }' "$work/medians"
