#!/usr/bin/env bash
# Streaming ingest (issue 15): featureserver consuming a Redis Stream of transactions for 10 000
# customers into the bundled window features (1m/5m/1h x 6 aggregations + 60 s trailing), with
# redis-server beside it on this machine. Three measurements, ROUNDS times each, medians:
#   ingest      a backlog of BACKLOG events consumed from start: events/s (goal >= 50 000)
#   lag         RATE events/s appended live for DURATION s: XADD-to-servable p50/p99 from the
#               server's featureserver_stream_processing_seconds histogram (goal p99 <= 100 ms)
#   get         wrk -t1 -c10 GET /features/customer/<random> while RATE events/s are ingested, then
#               right after without ingest on the same stored events: p99 ratio (goal <= 1.2x)
#   get-rate    the same GETs at a fixed GET_RATE per second over 10 connections (loadgen open
#               loop, latency from each request's scheduled time), with and without ingest: wrk
#               at -c10 runs the server at saturation, where p99 is mostly the CPU share the
#               ingest takes away on 2 cores; a fixed rate below it shows what a request waits.
#
#   bench/stream.sh                  # THREADS=1 BACKLOG=300000 RATE=20000 DURATION=20 ROUNDS=3 GET_RATE=10000
#   STREAM_FLAGS="--stream-niceness 5" bench/stream.sh   # serve flags for both servers
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

THREADS=${THREADS:-1}
STREAM_FLAGS=${STREAM_FLAGS:-}
BACKLOG=${BACKLOG:-300000}
RATE=${RATE:-20000}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-3}
GET_RATE=${GET_RATE:-10000}
SKIP_REFERENCE=1
work=$(mktemp -d)
. bench/stack.sh
trap stack_cleanup EXIT
stack_setup
swift build -c release --product loadgen >/dev/null
cat >"$work/get.yaml" <<'YAML'
name: stream-get
variables:
  customer: {int: [1, 5000]}
requests:
  - {name: "/features/:entity/:id", path: "/features/customer/{customer}", expect_status: 200}
YAML
get_at_rate() {
  run_loadgen "$1" --host "http://127.0.0.1:$2" --scenario "$work/get.yaml" -u 10 --rate "$GET_RATE" \
    -t "${DURATION}s" --threads 1
}
python_venv=$(scripts/test-venv.sh)
producer() { "$python_venv/bin/python" bench/stream_producer.py --port "$redis_port" "$@"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

# p50/p99 (ms) of the processing histogram between two /metrics snapshots, interpolated within
# buckets as Prometheus's histogram_quantile does.
processing_quantiles() {
  python3 - "$1" "$2" <<'PY'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'featureserver_stream_processing_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m: out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return out
a, b = buckets(sys.argv[1]), buckets(sys.argv[2])
bounds = sorted(b)
counts = [b[x] - a.get(x, 0) for x in bounds]
total = counts[-1]
def q(p):
    rank, lower, below = p * total, 0.0, 0
    for bound, cumulative in zip(bounds, counts):
        if cumulative >= rank:
            if bound == float("inf"): return lower * 1000
            inside = cumulative - below
            return 1000 * (lower + (bound - lower) * ((rank - below) / inside if inside else 1))
        lower, below = bound, cumulative
    return float("nan")
print("%.1f %.1f %d" % (q(0.5), q(0.99), total))
PY
}

echo "# bench/stream.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, 10 000 customers, backlog $BACKLOG, live rate $RATE/s"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  # Each round from the same state: no window events stored (a GET's cost grows with them).
  redis-cli -p "$redis_port" --scan --pattern 'fs:win:*' | xargs -r -n 1000 redis-cli -p "$redis_port" DEL >/dev/null
  redis-cli -p "$redis_port" --scan --pattern 'fs:watermark:*' | xargs -r -n 1000 redis-cli -p "$redis_port" DEL >/dev/null
  # 1. A backlog consumed from the start.
  stream="fs:events:backlog$round"
  producer --stream "$stream" --count "$BACKLOG" --prefix "r${round}b" >/dev/null
  start_ours "ingest$round" --stream "$stream" --stream-consumer bench $STREAM_FLAGS
  port=${ports[ingest$round]}
  first_time="" first_count=0
  while :; do
    count=$(metric "$port" featureserver_stream_events_total)
    now=$(date +%s.%N)
    if [ -z "$first_time" ] && [ "${count:-0}" -gt 0 ]; then first_time=$now first_count=$count; fi
    [ "${count:-0}" -ge "$BACKLOG" ] && break
    sleep 0.05
  done
  rate=$(awk -v n="$((count - first_count))" -v a="$first_time" -v b="$now" 'BEGIN { printf "%.0f", n / (b - a) }')
  echo "ingest $rate events/s" | tee -a "$work/results"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  redis-cli -p "$redis_port" DEL "$stream" >/dev/null

  # 2. and 3. Live ingest at RATE, and GET p99 with and without it.
  stream="fs:events:live$round"
  start_ours "live$round" --stream "$stream" --stream-consumer bench $STREAM_FLAGS
  port=${ports[live$round]}
  wrk -t1 -c10 -d3s -s bench/lua/features.lua "http://127.0.0.1:$port" >/dev/null
  curl -s "http://127.0.0.1:$port/metrics" >"$work/before"
  producer --stream "$stream" --rate "$RATE" --seconds "$((2 * DURATION + 2))" --prefix "r${round}l" >"$work/produced" &
  sleep 1
  run_wrk get-ingesting -t1 -c10 -d"${DURATION}s" -s bench/lua/features.lua "http://127.0.0.1:$port" |
    tee -a "$work/results"
  curl -s "http://127.0.0.1:$port/metrics" >"$work/between"
  get_at_rate get-rate-ingesting "$port" | tee -a "$work/results"
  wait $!
  sleep 1
  curl -s "http://127.0.0.1:$port/metrics" >"$work/after"
  read -r p50 p99 n < <(processing_quantiles "$work/before" "$work/after")
  echo "lag $p50 $p99 $n $(cat "$work/produced")" | tee -a "$work/results"
  # The same lag in each half: while wrk saturates the server, and while GETs come at GET_RATE.
  read -r p50 p99 n < <(processing_quantiles "$work/before" "$work/between")
  echo "lag-saturated $p50 $p99 $n" | tee -a "$work/results"
  read -r p50 p99 n < <(processing_quantiles "$work/between" "$work/after")
  echo "lag-at-rate $p50 $p99 $n" | tee -a "$work/results"
  grep '^featureserver_window_cache_own_writes_total' "$work/after" | tr '\n' ' ' | sed 's/^/write-through /; s/$/\n/' |
    tee -a "$work/results"
  # Without ingest right after, on the same stored events (a GET's cost grows with them).
  run_wrk get-quiet -t1 -c10 -d"${DURATION}s" -s bench/lua/features.lua "http://127.0.0.1:$port" | tee -a "$work/results"
  get_at_rate get-rate-quiet "$port" | tee -a "$work/results"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done

echo "## medians"
awk '$1 == "ingest" {print $2}' "$work/results" | median | awk '{ printf "ingest: %.0f events/s (goal >= 50000)\n", $1 }'
p50=$(awk '$1 == "lag" {print $2}' "$work/results" | median)
p99=$(awk '$1 == "lag" {print $3}' "$work/results" | median)
echo "lag at $RATE events/s: XADD to servable p50 ${p50} ms, p99 ${p99} ms (goal p99 <= 100)"
for phase in lag-saturated lag-at-rate; do
  p50=$(awk -v k="$phase" '$1 == k {print $2}' "$work/results" | median)
  p99=$(awk -v k="$phase" '$1 == k {print $3}' "$work/results" | median)
  echo "  $phase: p50 ${p50} ms, p99 ${p99} ms"
done
summarize get-quiet get-ingesting
q=$(awk '$1 == "get-quiet" {print $4}' "$work/results" | median)
i=$(awk '$1 == "get-ingesting" {print $4}' "$work/results" | median)
awk -v q="$q" -v i="$i" 'BEGIN { printf "GET p99 while ingesting / quiet: %.2fx (goal <= 1.2x)\n", i / q }'
summarize get-rate-quiet get-rate-ingesting
q=$(awk '$1 == "get-rate-quiet" {print $4}' "$work/results" | median)
i=$(awk '$1 == "get-rate-ingesting" {print $4}' "$work/results" | median)
awk -v q="$q" -v i="$i" -v r="$GET_RATE" 'BEGIN { printf "GET p99 at %d requests/s while ingesting / quiet: %.2fx\n", r, i / q }'
