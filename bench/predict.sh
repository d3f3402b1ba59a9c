#!/usr/bin/env bash
# POST /predict with random customer, account and merchant ids and amounts under
# `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`, side by side in one run: featureserver (cache
# on, the default) and the reference stack (bench/reference/app.py: FastAPI + uvicorn + redis-py
# with the same TTLCache and one pipelined read, scoring the same model file with the xgboost
# package), 2 uvicorn workers. featureserver keeps its drift histograms (the default); DRIFT=1
# also runs it with --drift-window 0, to show what the drift bookkeeping costs. nginx (1 worker,
# `return 200` of featureserver's answer, same Lua script) is this machine's limit.
# Servers alternate round by round; medians and ratios at the end.
#
#   bench/predict.sh                             # CONNECTIONS=100 DURATION=20s ROUNDS=3 THREADS=1
#   CONNECTIONS=10 SKIP_REFERENCE=1 bench/predict.sh
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

start_ours featureserver
names=(featureserver)
if [ "${DRIFT:-0}" = 1 ]; then
  start_ours featureserver-nodrift --drift-window 0
  names+=(featureserver-nodrift)
fi
if [ "$SKIP_REFERENCE" != 1 ]; then
  start_reference fastapi 5
  names+=(fastapi)
fi
names+=(nginx)
sample='{"transaction_id":"check","customer_id":42,"account_id":7,"merchant_id":3,"amount":25.5}'
ports[nginx]=$(free_port)
start_nginx "$work" "${ports[nginx]}" 1 \
  "$(curl -s -H 'Content-Type: application/json' -d "$sample" "http://127.0.0.1:${ports[featureserver]}/predict")"
for name in "${names[@]}"; do  # check the answers, then warm up
  body=$(curl -s -H 'Content-Type: application/json' -d "$sample" "http://127.0.0.1:${ports[$name]}/predict")
  case "$body" in *'"fraud_probability"'*'"degraded":false'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s bench/lua/predict.lua "http://127.0.0.1:${ports[$name]}" >/dev/null
done

echo "# bench/predict.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, uvicorn workers=$WORKERS, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" -s bench/lua/predict.lua "http://127.0.0.1:${ports[$name]}" |
      tee -a "$work/results"
  done
done
summarize "${names[@]}"
ratio featureserver nginx
if [ "$SKIP_REFERENCE" != 1 ]; then ratio featureserver fastapi; fi
