#!/usr/bin/env bash
# Soak: the fraud scenario at half the measured capacity (loadgen --rate, open loop) for
# $DURATION seconds while Redis is restarted twice and frozen once, and 20 slow readers and 20
# slow-body clients keep pressing. Reports RSS and open fds, errors and Redis command timeouts
# outside the fault windows, per-second p99 outside them, and recovery after each fault
# (the RELIABILITY section of BENCHMARKS.md).
#
#   bench/soak.sh                       # DURATION=600 SLOW=20 THREADS=<cores>
#   DURATION=120 bench/soak.sh          # a short rehearsal
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-600}
SLOW=${SLOW:-20}
# One server thread: the generator, Redis and the slow clients need the other core (with both
# cores given to the server, the generator itself falls behind and its lag reads as latency).
THREADS=${THREADS:-1}
swift build -c release --product featureserver >/dev/null
swift build -c release --product loadgen >/dev/null
bin=$PWD/.build/release
work=$(mktemp -d)
echo "# bench/soak.sh $(date -u +%FT%TZ) $(nproc) cores, threads=$THREADS duration=${DURATION}s slow=$SLOW work=$work"

redis_port=$(free_port)
start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --dbfilename dump.rdb --save "" \
    --appendonly no --daemonize no --loglevel warning >>"$work/redis.log" 2>&1 &
  echo $! >"$work/redis.pid"
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "redis did not start" >&2
  return 1
}
start_redis
for entity in customer:customers account:accounts merchant:merchants; do
  "$bin/featureserver" load --redis-url "redis://127.0.0.1:$redis_port" --entity "${entity%%:*}" \
    --shift-timestamps-to-now "data/${entity##*:}.csv" >/dev/null
done

port=$(free_port)
"$bin/featureserver" serve --port "$port" --threads "$THREADS" --redis-url "redis://127.0.0.1:$redis_port" \
  --send-timeout 10 --body-read-timeout 10 2>"$work/server.log" &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  [ -n "${slow_pid:-}" ] && kill "$slow_pid" 2>/dev/null || true
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
  kill -CONT "$(cat "$work/redis.pid")" 2>/dev/null || true
  kill "$(cat "$work/redis.pid")" 2>/dev/null || true
}
trap cleanup EXIT
wait_for_port "$port"
sleep 1

python3 bench/soak/slow_clients.py "$port" "$SLOW" >"$work/slow.json" &
slow_pid=$!
sleep 2

# Capacity: closed loop, enough users to saturate, 15 s, with the slow clients already pressing.
capacity=$("$bin/loadgen" --host "http://127.0.0.1:$port" -u 64 -r 64 -t 15s --json --quiet |
  python3 -c 'import json,sys; print(int(json.load(sys.stdin)["total"]["rps"]))')
rate=$((capacity / 2))
echo "capacity ${capacity} req/s (closed loop, 64 users, slow clients connected); soak rate ${rate} req/s"

sample() {
  while true; do
    local rss fds timeouts connections
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$server/fd" 2>/dev/null | wc -l)
    local metrics
    metrics=$(curl -s -m 1 "http://127.0.0.1:$port/metrics" || true)
    timeouts=$(echo "$metrics" | awk '/^featureserver_redis_commands_total\{outcome="timeout"\}/ {print $2}')
    connections=$(echo "$metrics" | awk '/^featureserver_http_connections_open / {print $2}')
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s.%N)" "${rss:-0}" "$fds" "${timeouts:-0}" "${connections:-0}" >>"$work/samples.tsv"
    sleep 1
  done
}
: >"$work/samples.tsv"
sample &
sampler=$!

"$bin/loadgen" --host "http://127.0.0.1:$port" -u 64 --rate "$rate" -t "${DURATION}s" --json --quiet \
  >"$work/loadgen.json" &
loadgen=$!

: >"$work/faults.tsv"
fault_at() { # SECONDS NAME: waits until SECONDS into the run
  local target=$(($1))
  while [ "$(($(date +%s) - run_start))" -lt "$target" ]; do sleep 0.2; done
}
run_start=$(date +%s)
restart_redis() {
  local began
  began=$(date +%s.%N)
  redis-cli -p "$redis_port" shutdown save >/dev/null 2>&1 || true
  while kill -0 "$(cat "$work/redis.pid")" 2>/dev/null; do sleep 0.05; done
  start_redis
  printf '%s\t%s\t%s\n' "$1" "$began" "$(date +%s.%N)" >>"$work/faults.tsv"
}
fault_at "DURATION * 2 / 10"
restart_redis "redis restart 1"
fault_at "DURATION * 4 / 10"
restart_redis "redis restart 2"
fault_at "DURATION * 6 / 10"
began=$(date +%s.%N)
kill -STOP "$(cat "$work/redis.pid")"
sleep 3
kill -CONT "$(cat "$work/redis.pid")"
printf '%s\t%s\t%s\n' "redis frozen 3 s (SIGSTOP)" "$began" "$(date +%s.%N)" >>"$work/faults.tsv"

wait "$loadgen" || true
kill "$slow_pid"
wait "$slow_pid" 2>/dev/null || true
slow_pid=
sleep 1
kill "$sampler"
sampler=
alive=$(kill -0 "$server" 2>/dev/null && echo yes || echo no)
echo "server still running at the end: $alive"
python3 bench/soak/report.py "$work"
