#!/usr/bin/env bash
# featureserver at production scale: SCALE_ROWS customers (1 M by default; the bundled data's
# columns and distributions, from training/generate_data.py, generated here and not committed)
# loaded into one redis-server, read with Zipf(ZIPF_S) ids (bench/lua/zipf.lua: a few hot
# customers, a long tail) under `wrk -t1 -c$CONNECTIONS -d$DURATION`, with --threads 1, 2 and 8
# (THREAD_COUNTS) and the default cache (100 000 entries, 256 MiB, TTL 5 s), then again with a
# TTL of an hour (CAPACITY_TTL): the hit ratio of the first pass depends on the request rate too
# (a key read less often than once per TTL misses), that of the second on capacity only, which is
# what sharing the cache between loops is about.
#
# Prints, per thread count: hit ratio, req/s, p99, Redis commands/s, server RSS, the cache's
# rows and bytes, and the RSS each cached row costs next to the size of its JSON answer. Before
# that, the loader: rows/s into the empty Redis (median of LOAD_ROUNDS) and, with LOAD_ROWS
# (5 M by default; 0 skips it), its peak RSS for that file.
#
#   bench/scale.sh        # SCALE_ROWS=1000000 LOAD_ROWS=5000000 DURATION=20s CONNECTIONS=100
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SCALE_ROWS=${SCALE_ROWS:-1000000}
LOAD_ROWS=${LOAD_ROWS:-5000000}
LOAD_ROUNDS=${LOAD_ROUNDS:-3}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-10s}
CONNECTIONS=${CONNECTIONS:-100}
ZIPF_S=${ZIPF_S:-1.1}
THREAD_COUNTS=${THREAD_COUNTS:-"1 2 8"}
CAPACITY_TTL=${CAPACITY_TTL:-3600}
export ZIPF_N=$SCALE_ROWS ZIPF_S

data=.build/scale
work=$(mktemp -d)
pids=()
trap stop_started EXIT

swift build -c release --product featureserver >/dev/null
binary=.build/release/featureserver
generate() {  # generate ROWS: the CSV path, generated once
  local file=$data/$1/customers.csv
  [ -s "$file" ] || python3 training/generate_data.py --customers-only --customers "$1" --out "$data/$1" >&2
  echo "$file"
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning \
  >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port"
redis="redis://127.0.0.1:$redis_port"
cli() { redis-cli -p "$redis_port" "$@"; }
stat_of() { cli INFO "$1" | tr -d '\r' | awk -F: -v k="$2" '$1 == k {print $2}'; }

echo "# bench/scale.sh $(date -u +%FT%TZ) $(nproc) cores, $SCALE_ROWS customers, Zipf($ZIPF_S), wrk -t1 -c$CONNECTIONS -d$DURATION"
if [ "$LOAD_ROWS" != 0 ]; then
  file=$(generate "$LOAD_ROWS")
  cli FLUSHALL >/dev/null
  /usr/bin/time -f "%M %e" -o "$work/time" "$binary" load --redis-url "$redis" --entity customer "$file" \
    >"$work/load.out" 2>/dev/null
  read -r rss seconds <"$work/time"
  echo "loader, $LOAD_ROWS rows ($(du -m "$file" | cut -f1) MB): $(grep -o '[0-9]* rows/s' "$work/load.out"), peak RSS $((rss / 1024)) MiB, ${seconds} s"
fi
file=$(generate "$SCALE_ROWS")
: >"$work/rates"
for _ in $(seq 1 "$LOAD_ROUNDS"); do
  cli FLUSHALL >/dev/null
  "$binary" load --redis-url "$redis" --entity customer "$file" 2>/dev/null |
    grep -o '[0-9]* rows/s' | awk '{print $1}' >>"$work/rates"
done
echo "loader, $SCALE_ROWS rows: median $(median <"$work/rates") rows/s over $LOAD_ROUNDS rounds ($(tr '\n' ' ' <"$work/rates"))"
echo "redis: $(cli DBSIZE) keys, used_memory $(stat_of memory used_memory_human)"

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k {print $2}'; }
for ttl in 5 $CAPACITY_TTL; do
  printf '\n--cache-ttl %s\n' "$ttl"
  printf '\n| threads | hit ratio | req/s | p99 ms | Redis cmds/s | server RSS MiB | cached rows | cache MiB (est.) | RSS per cached row | JSON per row | ratio |\n'
  printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
  for threads in $THREAD_COUNTS; do
    port=$(free_port)
    "$binary" serve --bind 127.0.0.1 --port "$port" --threads "$threads" --redis-url "$redis" --cache-ttl "$ttl" \
      >"$work/serve-$threads.out" 2>"$work/serve-$threads.log" &
    pid=$!
    pids+=($pid)
    wait_for_port "$port"
    base_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    json=0
    for id in $(seq 1 97 9700); do
      json=$((json + $(curl -s "http://127.0.0.1:$port/features/customer/$id" | wc -c)))
    done
    json=$((json / 100))
    wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s bench/lua/zipf.lua "http://127.0.0.1:$port" >/dev/null
    hits=$(metric "$port" 'featureserver_cache_requests_total{result="hit"}')
    misses=$(metric "$port" 'featureserver_cache_requests_total{result="miss"}')
    commands=$(stat_of stats total_commands_processed)
    line=$(run_wrk "threads-$threads" -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/lua/zipf.lua "http://127.0.0.1:$port")
    seconds=${DURATION%s}
    hits=$(($(metric "$port" 'featureserver_cache_requests_total{result="hit"}') - hits))
    misses=$(($(metric "$port" 'featureserver_cache_requests_total{result="miss"}') - misses))
    commands=$(($(stat_of stats total_commands_processed) - commands))
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    entries=$(metric "$port" featureserver_cache_entries)
    negative=$(metric "$port" featureserver_cache_negative_entries)
    bytes=$(metric "$port" featureserver_cache_bytes)
    rows=$((entries - negative))
    read -r _ rps _ p99 _ _ <<<"$line"
    awk -v t="$threads" -v h="$hits" -v m="$misses" -v r="$rps" -v p="$p99" -v c="$commands" -v s="$seconds" \
      -v rss="$rss" -v base="$base_rss" -v rows="$rows" -v b="$bytes" -v j="$json" 'BEGIN {
        per = rows > 0 ? (rss - base) * 1024 / rows : 0
        printf "| %d | %.2f %% | %.0f | %.2f | %.0f | %.0f | %d | %.0f | %.0f B | %d B | %.2f |\n",
          t, 100 * h / (h + m), r, p, c / s, rss / 1024, rows, b / 1048576, per, j, per / j }'
    kill "$pid"
    wait "$pid" 2>/dev/null || true
  done
done
