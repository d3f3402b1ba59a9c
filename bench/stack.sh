# The stack that bench/features.sh and bench/predict.sh compare: one redis-server loaded with
# the bundled data, featureserver instances and FastAPI reference instances on top of it.
# Source after bench/lib.sh; it defines functions and uses $work, $THREADS, $WORKERS.
#   stack_setup               builds featureserver, makes the reference venv, starts Redis
#   start_ours NAME ARGS...   featureserver serve ARGS... (BINARY=path for another build); sets ports[NAME], server_pid[NAME]
#   start_reference NAME TTL  the FastAPI app with 2 workers; sets ports[NAME]
#   summarize NAMES...        (bench/lib.sh) median table of $work/results
declare -A ports
declare -A server_pid  # by NAME, for start_ours' servers
pids=()
venv=bench/.venv-reference

stack_cleanup() { stop_started; }

stack_setup() {
  swift build -c release --product featureserver >/dev/null
  if [ "${SKIP_REFERENCE:-0}" != 1 ]; then
    if [ ! -x "$venv/bin/uvicorn" ]; then python3 -m venv "$venv"; fi
    "$venv/bin/pip" install -q -r bench/reference/requirements.txt
  fi
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --loglevel warning \
    >"$work/redis.log" 2>&1 &
  pids+=($!)
  wait_for_port "$redis_port"
  for table in customers:customer accounts:account merchants:merchant; do
    .build/release/featureserver load --redis-url "redis://127.0.0.1:$redis_port" --entity "${table#*:}" \
      --shift-timestamps-to-now "data/${table%%:*}.csv" >/dev/null
  done
}

start_ours() {
  local name=$1 port
  shift
  port=$(free_port)
  "${BINARY:-.build/release/featureserver}" serve --bind 127.0.0.1 --port "$port" --threads "$THREADS" \
    --redis-url "redis://127.0.0.1:$redis_port" "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  server_pid[$name]=$!
  wait_for_port "$port"
  ports[$name]=$port
}

start_reference() {
  local port
  port=$(free_port)
  (cd bench/reference && REDIS_URL="redis://127.0.0.1:$redis_port/0" CACHE_TTL="$2" \
    exec "../../$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$port" --workers "$WORKERS" \
    --log-level warning --no-access-log) >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for_port "$port"
  ports[$1]=$port
}


# ratio A B: prints the ratio of the median req/s of A to B.
ratio() {
  local a b
  a=$(awk -v s="$1" '$1 == s {print $2}' "$work/results" | median)
  b=$(awk -v s="$2" '$1 == s {print $2}' "$work/results" | median)
  awk -v a="$a" -v b="$b" -v x="$1" -v y="$2" 'BEGIN { printf "ratio %s / %s: %.2fx req/s\n", x, y, a / b }'
}
