#!/usr/bin/env bash
# Feast users' comparison: the same Feast repository (Tests/feast/fixture_repo.py: 200 cards,
# `feast apply` and `feast materialize` into one redis-server) served by featureserver
# (`serve --feast-repo`: one thread with the cache on, and off; two threads, as many as the tuned
# Feast has workers) and by `feast serve` 0.67 (default: one worker; tuned: 2 workers, no access
# log, no --max-requests restarts), in one run, round by round under `wrk -t1 -c$CONNECTIONS
# -d$DURATION --latency --timeout 10s` (Feast's batch answers take longer than wrk's default 2 s
# timeout) with the same Lua script:
#   one:   POST /get-online-features, 1 entity x 8 features   (bench/lua/feast_one.lua)
#   batch: POST /get-online-features, 100 entities x 8 features (bench/lua/feast_batch.lua)
#
#   bench/feast.sh [one|batch|both]      CONNECTIONS=100 DURATION=10s ROUNDS=3 THREADS=1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

shapes=${1:-both}
[ "$shapes" = both ] && shapes="one batch"
CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}

work=$(mktemp -d)
pids=()
trap stop_started EXIT

swift build -c release --product featureserver >/dev/null
venv=$(bash scripts/test-venv.sh)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning \
  >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port"
"$venv/bin/python" Tests/feast/fixture_repo.py "$work/repo" "127.0.0.1:$redis_port"
"$venv/bin/feast" -c "$work/repo" apply >/dev/null 2>&1
"$venv/bin/feast" -c "$work/repo" materialize 2026-01-01T00:00:00 2026-12-01T00:00:00 >/dev/null 2>&1

declare -A ports
start() {
  local name=$1 port
  shift
  port=$(free_port)
  ports[$name]=$port
  "$@" --port "$port" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
    sleep 0.1
  done
  echo "$name did not start: $(tail -5 "$work/$name.log")" >&2
  exit 1
}
# exec: the background job started by `start` is then the server itself, so the cleanup's kill
# reaches it (a shell function in the background is a subshell around it).
ours() { exec .build/release/featureserver serve --bind 127.0.0.1 --threads "$THREADS" --feast-repo "$work/repo" "$@"; }
# (a later --threads wins)
feast_serve() { exec "$venv/bin/feast" -c "$work/repo" serve -h 127.0.0.1 --no-access-log -r 3600 "$@"; }
start ours ours
start ours-2threads ours --threads 2
start ours-nocache ours --cache-ttl 0
start feast-default feast_serve
start feast-tuned feast_serve -w 2 --max-requests 1000000000 --max-requests-jitter 0
servers="ours ours-2threads ours-nocache feast-default feast-tuned"

echo "# bench/feast.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver --threads $THREADS, wrk -t1 -c$CONNECTIONS -d$DURATION, $ROUNDS rounds"
for shape in $shapes; do
  lua=bench/lua/feast_$shape.lua
  : >"$work/results"
  for name in $servers; do
    wrk -t1 -c"$CONNECTIONS" -d3s -s "$lua" "http://127.0.0.1:${ports[$name]}" >/dev/null
  done
  for round in $(seq 1 "$ROUNDS"); do
    for name in $servers; do
      run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "$lua" "http://127.0.0.1:${ports[$name]}" |
        tee -a "$work/results"
    done
  done
  echo "## shape: $shape"
  summarize $servers
  for name in ours ours-2threads ours-nocache; do
    a=$(awk -v s="$name" '$1 == s {print $2}' "$work/results" | median)
    b=$(awk '$1 == "feast-tuned" {print $2}' "$work/results" | median)
    pa=$(awk -v s="$name" '$1 == s {print $4}' "$work/results" | median)
    pb=$(awk '$1 == "feast-tuned" {print $4}' "$work/results" | median)
    awk -v a="$a" -v b="$b" -v pa="$pa" -v pb="$pb" -v n="$name" \
      'BEGIN { printf "%s / feast-tuned: %.1fx req/s, p99 %.3f ms vs %.1f ms (1/%.0f)\n", n, a / b, pa, pb, pb / pa }'
  done
done
