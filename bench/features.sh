#!/usr/bin/env bash
# GET /features/customer/<random id> under `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`, side by
# side in one run: featureserver with its cache on (default 5 s TTL) and off (every request goes
# to Redis), and the reference stack (bench/reference/app.py: FastAPI + uvicorn + redis-py
# asyncio/hiredis, 50-connection BlockingConnectionPool, TTLCache), 2 uvicorn workers, cache on
# and off. All read the same redis-server, loaded with the bundled data. Servers alternate round
# by round; medians and ratios at the end.
#
#   bench/features.sh                            # CONNECTIONS=100 DURATION=20s ROUNDS=3 THREADS=1
#   CONNECTIONS=10 SKIP_REFERENCE=1 bench/features.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}
SKIP_REFERENCE=${SKIP_REFERENCE:-0}

swift build -c release --product featureserver >/dev/null
venv=bench/.venv-reference
if [ "$SKIP_REFERENCE" != 1 ] && [ ! -x "$venv/bin/uvicorn" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/reference/requirements.txt
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning \
  >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for_port "$redis_port"
for table in customers:customer accounts:account merchants:merchant; do
  .build/release/featureserver load --redis-url "redis://127.0.0.1:$redis_port" --entity "${table#*:}" \
    --shift-timestamps-to-now "data/${table%%:*}.csv" >/dev/null
done

declare -A ports
start_ours() {  # name ttl: starts featureserver, sets ports[name]
  local port
  port=$(free_port)
  .build/release/featureserver serve --bind 127.0.0.1 --port "$port" --threads "$THREADS" \
    --redis-url "redis://127.0.0.1:$redis_port" --cache-ttl "$2" >"$work/$1.out" 2>"$work/$1.log" &
  pids+=($!)
  wait_for_port "$port"
  ports[$1]=$port
}
start_reference() {  # name ttl: starts the FastAPI reference, sets ports[name]
  local port
  port=$(free_port)
  (cd bench/reference && REDIS_URL="redis://127.0.0.1:$redis_port/0" CACHE_TTL="$2" \
    exec "../../$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$port" --workers "$WORKERS" \
    --log-level warning --no-access-log) >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for_port "$port"
  ports[$1]=$port
}

cat >"$work/random.lua" <<'LUA'
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/features/customer/" .. math.random(1, 5000))
end
LUA

start_ours featureserver-cache 5
start_ours featureserver-nocache 0
names=(featureserver-cache featureserver-nocache)
if [ "$SKIP_REFERENCE" != 1 ]; then
  start_reference fastapi-cache 5
  start_reference fastapi-nocache 0
  names+=(fastapi-cache fastapi-nocache)
fi
for name in "${names[@]}"; do  # check the answers, then warm up
  body=$(curl -s "http://127.0.0.1:${ports[$name]}/features/customer/42")
  case "$body" in *'"status":"PRESENT"'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s "$work/random.lua" "http://127.0.0.1:${ports[$name]}" >/dev/null
done

echo "# bench/features.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, uvicorn workers=$WORKERS, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$work/random.lua" "http://127.0.0.1:${ports[$name]}" |
      tee -a "$work/results"
  done
done
printf '\n| server | req/s (median) | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|\n'
for name in "${names[@]}"; do
  printf '| %s |' "$name"
  for column in 2 3 4 5; do
    printf ' %s |' "$(awk -v s="$name" -v c=$column '$1 == s {print $c}' "$work/results" | median)"
  done
  printf '\n'
done
if [ "$SKIP_REFERENCE" != 1 ]; then
  for pair in "featureserver-cache fastapi-cache" "featureserver-nocache fastapi-nocache"; do
    set -- $pair
    a=$(awk -v s="$1" '$1 == s {print $2}' "$work/results" | median)
    b=$(awk -v s="$2" '$1 == s {print $2}' "$work/results" | median)
    awk -v a="$a" -v b="$b" -v x="$1" -v y="$2" 'BEGIN { printf "ratio %s / %s: %.1fx req/s\n", x, y, a / b }'
  done
fi
