# Shared helpers for the bench/ scripts: wrk runs parsed into numbers, medians, free ports.
# Source it; it defines functions only.

# stop_started: kills every process in $pids (what the script started), waits for them and
# removes $work. Scripts `trap stop_started EXIT`.
stop_started() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# free_port: prints a TCP port nothing listens on.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_port PORT: waits up to 10 s for something to listen on 127.0.0.1:PORT.
wait_for_port() {
  for _ in $(seq 1 100); do
    (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on port $1" >&2
  return 1
}

# to_ms VALUE: converts a wrk latency ("812.00us", "1.23ms", "1.02s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%s", v }'
}

# cpu_ticks: prints "all steal": jiffies of every CPU state summed, and those stolen by the
# hypervisor (time this VM was ready to run but another guest had the physical core).
cpu_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat
}

# steal_percent BEFORE AFTER: the share of CPU time stolen between two cpu_ticks readings.
steal_percent() {
  echo "$1 $2" | awk '{ all = $3 - $1; printf "%.1f", (all > 0 ? 100 * ($4 - $2) / all : 0) }'
}

# run_wrk LABEL ARGS...: runs wrk --latency and prints "LABEL rps p50_ms p99_ms non2xx steal%".
# steal% is the CPU time the hypervisor took away during the run: on a shared VM the tail
# latency follows it (a core taken away for milliseconds stalls whoever was on it).
run_wrk() {
  local label=$1
  shift
  local out before
  before=$(cpu_ticks)
  out=$(wrk --latency "$@" 2>&1)
  local stolen
  stolen=$(steal_percent "$before" "$(cpu_ticks)")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
  p50=$(to_ms "$(echo "$out" | awk '$1 == "50%" {print $2}')")
  p99=$(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")
  errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "$label ${rps:-0} ${p50:-nan} ${p99:-nan} ${errors:-0} $stolen"
}

# loadgen_line LABEL FILE: prints "LABEL rps p50_ms p99_ms failures" from a loadgen --json summary.
loadgen_line() {
  python3 - "$1" "$2" <<'PY'
import json, sys
total = json.load(open(sys.argv[2]))["total"]
print(f"{sys.argv[1]} {total['rps']:.2f} {total['percentiles_ms']['50']:.3f} {total['percentiles_ms']['99']:.3f} {total['failures']}")
PY
}

# run_loadgen LABEL ARGS...: runs `.build/release/loadgen ARGS... --json --quiet` and prints
# "LABEL rps p50_ms p99_ms failures steal%", as run_wrk does. For open-loop runs (--rate): a
# fixed offered load, latency from each request's scheduled time.
run_loadgen() {
  local label=$1 out before stolen
  shift
  out=$(mktemp)
  before=$(cpu_ticks)
  .build/release/loadgen "$@" --json --quiet >"$out" 2>/dev/null || true
  stolen=$(steal_percent "$before" "$(cpu_ticks)")
  echo "$(loadgen_line "$label" "$out") $stolen"
  rm -f "$out"
}

# median: reads numbers, one per line, prints their median.
median() {
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# pair_table SUITE LABEL_A LABEL_B ROUNDS ITERATIONS: runs `micro-bench --suite SUITE` (which
# prints "a_ns b_ns") at 1 and 2 threads, ROUNDS times each, and prints a markdown table of the
# medians with the ratio b/a.
pair_table() {
  local suite=$1 label_a=$2 label_b=$3 rounds=$4 iterations=$5 samples
  samples=$(mktemp)
  printf '| threads | %s ns | %s ns | ratio |\n|---|---|---|---|\n' "$label_a" "$label_b"
  for threads in 1 2; do
    : >"$samples"
    for _ in $(seq 1 "$rounds"); do
      .build/release/micro-bench --suite "$suite" --threads "$threads" --iterations "$iterations" >>"$samples"
    done
    awk -v t="$threads" -v a="$(awk '{print $1}' "$samples" | median)" -v b="$(awk '{print $2}' "$samples" | median)" \
      'BEGIN { printf "| %d | %.1f | %.1f | %.1fx |\n", t, a, b, b / a }'
  done
  rm -f "$samples"
}

# start_nginx DIR PORT WORKERS BODY [LISTEN_OPTIONS]: starts nginx answering GET /json, GET
# /features/... and POST /predict with BODY (keep-alive, no access log), its files in DIR;
# LISTEN_OPTIONS "http2" makes it h2c with prior knowledge. Stop it with
# `kill "$(cat DIR/nginx.pid)"`.
start_nginx() {
  local dir=$1 port=$2 workers=$3 body=$4 listen_options=${5:-}
  mkdir -p "$dir/nginx"
  cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/nginx; proxy_temp_path $dir/nginx; fastcgi_temp_path $dir/nginx;
  uwsgi_temp_path $dir/nginx; scgi_temp_path $dir/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port reuseport $listen_options;
    http2_max_requests 1000000;
    location /json { default_type application/json; return 200 '$body'; }
    location /features/ { default_type application/json; return 200 '$body'; }
    location /predict { default_type application/json; return 200 '$body'; }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -e "$dir/nginx-error.log"
  wait_for_port "$port"
}

# summarize NAMES...: the median table (req/s, p50, p99, non-2xx, steal) of $work/results, the
# lines run_wrk printed, one row per NAME.
summarize() {
  local limit=${STEAL_LIMIT:-2}
  printf '\n| server | req/s (median) | p50 ms | p99 ms | non-2xx | steal %% | p99 ms, rounds with steal < %s %% |\n' "$limit"
  printf '|---|---|---|---|---|---|---|\n'
  for name in "$@"; do
    printf '| %s |' "$name"
    for column in 2 3 4 5 6; do
      printf ' %s |' "$(awk -v s="$name" -v c=$column '$1 == s {print $c}' "$work/results" | median)"
    done
    local quiet
    quiet=$(awk -v s="$name" -v l="$limit" '$1 == s && $6 < l {print $4}' "$work/results")
    printf ' %s (%s rounds) |\n' "$(echo "$quiet" | grep . | median)" "$(echo "$quiet" | grep -c .)"
  done
}
