#!/usr/bin/env bash
# Instructions per request, counted by `valgrind --tool=callgrind` (instruction counts repeat on
# this noisy machine where wall-clock times do not). For each case the server (one thread) runs
# under callgrind twice, answering $SMALL and then $LARGE requests from `h2load --h1 -c10`; the
# difference of the event loops' instructions in the two runs over the difference of the counts
# is what one request costs, with warm-up cancelled out (start-up and shutdown are outside the
# loops).
#
#   hit      GET /features/customer/<id in 1..100>, --cache-ttl 3600 (the first 100 miss in both
#            runs; a run under valgrind outlasts the default TTL, whose re-reads would count)
#   miss     the same with --cache-ttl 0 (every request reads Redis)
#   predict  POST /predict, one body, --cache-ttl 3600 (its rows cached after the first)
#
#   bench/callgrind.sh                                  # the working tree's release build
#   BINARIES="before:.build/ab/845b8aa/.build/release/featureserver after:.build/release/featureserver" bench/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

SMALL=${SMALL:-2000}
LARGE=${LARGE:-12000}
THREADS=1
SKIP_REFERENCE=1
command -v valgrind >/dev/null && command -v h2load >/dev/null || {
  echo "needs valgrind and h2load: apt-get install -y valgrind nghttp2-client" >&2
  exit 1
}
work=$(mktemp -d)
. bench/stack.sh
trap stack_cleanup EXIT
stack_setup
BINARIES=${BINARIES:-"working-tree:.build/release/featureserver"}

python3 -c 'import random; random.seed(7); [print(f"/features/customer/{random.randint(1, 100)}") for _ in range(200000)]' \
  >"$work/uris"
echo '{"transaction_id":"cg","customer_id":42,"account_id":7,"merchant_id":3,"amount":25.5}' >"$work/predict.json"

# instructions BINARY COUNT ARGS... -- H2LOAD_ARGS...: total Ir of a server run answering COUNT requests.
instructions() {
  local binary=$1 count=$2 port out pid
  shift 2
  local serve=() load=()
  while [ "$1" != "--" ]; do serve+=("$1"); shift; done
  shift
  load=("$@")
  port=$(free_port)
  out=$work/callgrind.$port
  # valgrind 3.19 cannot read the DWARF Swift 6 writes: a copy without it (symbols stay).
  strip --strip-debug -o "$work/server" "$binary"
  # Deterministic hashing: with the per-process random seed, start-up (the model's JSON goes
  # through dictionaries) varied by millions of instructions between runs, which came out as
  # thousands per request in the difference below.
  SWIFT_DETERMINISTIC_HASHING=1 valgrind --tool=callgrind --callgrind-out-file="$out" "$work/server" serve --bind 127.0.0.1 --port "$port" \
    --threads 1 --redis-url "redis://127.0.0.1:$redis_port" "${serve[@]}" >"$work/valgrind.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  h2load --h1 -t1 -c10 -n "$count" "${load[@]}" -B "http://127.0.0.1:$port" >"$work/h2load.log" 2>&1
  grep -q "^status codes: $count 2xx" "$work/h2load.log" || { cat "$work/h2load.log" >&2; exit 1; }
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  # The event loops' instructions (EventLoop.run, inclusive), not the process total: start-up
  # reads /proc/net/tcp (the port-sharing check), whose length grows with the sockets earlier
  # runs left in TIME_WAIT, and that moved the difference below by hundreds per request.
  callgrind_annotate --inclusive=yes --threshold=100 "$out" | awk '/EventLoopC3runyyF/ && !found {gsub(",", "", $1); print $1; found = 1}'
}

echo "# bench/callgrind.sh $(date -u +%FT%TZ) valgrind $(valgrind --version | cut -d- -f2), event loops' (Ir($LARGE) - Ir($SMALL)) / $((LARGE - SMALL)) per request"
printf '| build | cache-hit GET | cache-miss GET | /predict |\n|---|---|---|---|\n'
for entry in $BINARIES; do
  label=${entry%%:*}
  binary=${entry#*:}
  row="| $label |"
  for case in hit miss predict; do
    case $case in
      hit) serve=(--cache-ttl 3600) load=(-i "$work/uris") ;;
      miss) serve=(--cache-ttl 0) load=(-i "$work/uris") ;;
      predict) serve=(--cache-ttl 3600) load=(-d "$work/predict.json" -H "Content-Type: application/json" /predict) ;;
    esac
    small=$(instructions "$binary" "$SMALL" "${serve[@]}" -- "${load[@]}")
    large=$(instructions "$binary" "$LARGE" "${serve[@]}" -- "${load[@]}")
    row+=" $(( (large - small) / (LARGE - SMALL) )) |"
  done
  echo "$row"
done
