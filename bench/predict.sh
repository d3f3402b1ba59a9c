#!/usr/bin/env bash
# POST /predict with random customer, account and merchant ids and amounts under
# `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`, side by side in one run: featureserver (cache
# on, the default) and the reference stack (bench/reference/app.py: FastAPI + uvicorn + redis-py
# with the same TTLCache and one pipelined read, scoring the same model file with the xgboost
# package), 2 uvicorn workers. featureserver keeps its drift histograms (the default); DRIFT=1
# also runs it with --drift-window 0, to show what the drift bookkeeping costs.
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
trap stack_cleanup EXIT
stack_setup

cat >"$work/predict.lua" <<'LUA'
math.randomseed(os.time())
local categories = {"grocery", "restaurants", "fuel", "electronics", "travel", "crypto", "wire_transfer"}
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{"transaction_id":"tx-%d","customer_id":%d,"account_id":%d,"merchant_id":%d,"amount":%.2f,' ..
    '"merchant_category":"%s","device_known":%s,"location_match":%s,"transactions_last_hour":%d}',
    counter, math.random(1, 5000), math.random(1, 6000), math.random(1, 800), math.random() * 500,
    categories[math.random(1, #categories)], tostring(math.random() > 0.1), tostring(math.random() > 0.1),
    math.random(0, 6))
  return wrk.format("POST", "/predict", {["Content-Type"] = "application/json"}, body)
end
LUA

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
sample='{"transaction_id":"check","customer_id":42,"account_id":7,"merchant_id":3,"amount":25.5}'
for name in "${names[@]}"; do  # check the answers, then warm up
  body=$(curl -s -H 'Content-Type: application/json' -d "$sample" "http://127.0.0.1:${ports[$name]}/predict")
  case "$body" in *'"fraud_probability"'*'"degraded":false'*) ;; *) echo "$name answered: $body" >&2; exit 1 ;; esac
  wrk -t1 -c"$CONNECTIONS" -d3s -s "$work/predict.lua" "http://127.0.0.1:${ports[$name]}" >/dev/null
done

echo "# bench/predict.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=$THREADS, uvicorn workers=$WORKERS, wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$work/predict.lua" "http://127.0.0.1:${ports[$name]}" |
      tee -a "$work/results"
  done
done
summarize "${names[@]}"
if [ "$SKIP_REFERENCE" != 1 ]; then ratio featureserver fastapi; fi
