#!/usr/bin/env bash
# GET /features/customer/<random id> under `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`, side by
# side in one run: featureserver with its cache on (default 5 s TTL) and off (every request goes
# to Redis), and the reference stack (bench/reference/app.py: FastAPI + uvicorn + redis-py
# asyncio/hiredis, 50-connection BlockingConnectionPool, TTLCache), 2 uvicorn workers, cache on
# and off. All read the same redis-server, loaded with the bundled data. nginx (1 worker, `return
# 200` of featureserver's answer for customer 42, same Lua script) is this machine's limit: the
# ratios to it say how close the route is. Servers alternate round by round; medians and ratios
# at the end.
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

work=$(mktemp -d)
. bench/stack.sh
trap 'kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null; stack_cleanup' EXIT
stack_setup

start_ours featureserver-cache --cache-ttl 5
start_ours featureserver-nocache --cache-ttl 0
names=(featureserver-cache featureserver-nocache nginx)
ports[nginx]=$(free_port)
start_nginx "$work" "${ports[nginx]}" 1 "$(curl -s "http://127.0.0.1:${ports[featureserver-cache]}/features/customer/42")"
if [ "$SKIP_REFERENCE" != 1 ]; then
  start_reference fastapi-cache 5
  start_reference fastapi-nocache 0
  names+=(fastapi-cache fastapi-nocache)
fi
for name in "${names[@]}"; do  # check the answers, then warm up
  body=$(curl -s "http://127.0.0.1:${ports[$name]}/features/customer/42")
  case "$body" in *'"status":"PRESENT"'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s bench/lua/features.lua "http://127.0.0.1:${ports[$name]}" >/dev/null
done

echo "# bench/features.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, uvicorn workers=$WORKERS, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/lua/features.lua "http://127.0.0.1:${ports[$name]}" |
      tee -a "$work/results"
  done
done
summarize "${names[@]}"
ratio featureserver-cache nginx
ratio featureserver-nocache nginx
if [ "$SKIP_REFERENCE" != 1 ]; then
  ratio featureserver-cache fastapi-cache
  ratio featureserver-nocache fastapi-nocache
fi
