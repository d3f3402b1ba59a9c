#!/usr/bin/env bash
# HTTPCore against nginx, side by side in one run: the same 400-byte JSON body, `return 200` in
# nginx with as many workers as our threads, `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`,
# alternating servers for $ROUNDS rounds. Prints each run and the medians with ratios.
#
#   bench/http.sh                      # defaults: THREADS=1 CONNECTIONS=100 DURATION=20s ROUNDS=3
#   THREADS=2 CONNECTIONS=10 bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-3}
command -v wrk >/dev/null && command -v nginx >/dev/null || {
  echo "needs wrk and nginx: apt-get install -y wrk nginx-light" >&2
  exit 2
}

swift build -c release --product http-bench-server >/dev/null
work=$(mktemp -d)
ours_port=$(free_port)
"$PWD/.build/release/http-bench-server" --port "$ours_port" --threads "$THREADS" 2>"$work/ours.log" &
ours_pid=$!
trap 'kill $ours_pid 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
wait_for_port "$ours_port"
body=$(curl -s "http://127.0.0.1:$ours_port/json")
[ "${#body}" -eq 400 ] || { echo "expected a 400-byte body, got ${#body}" >&2; exit 1; }

nginx_port=$(free_port)
start_nginx "$work" "$nginx_port" $THREADS "$body"
[ "$(curl -s "http://127.0.0.1:$nginx_port/json")" = "$body" ] || { echo "nginx body differs" >&2; exit 1; }

echo "# bench/http.sh $(date -u +%FT%TZ) $(nproc) cores, threads=$THREADS wrk -t1 -c$CONNECTIONS -d$DURATION"
# Warm both up.
wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$ours_port/json" >/dev/null
wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$nginx_port/json" >/dev/null
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  run_wrk httpcore -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$ours_port/json" | tee -a "$work/results"
  run_wrk nginx -t1 -c"$CONNECTIONS" -d"$DURATION" "http://127.0.0.1:$nginx_port/json" | tee -a "$work/results"
done
for server in httpcore nginx; do
  for column in 2 3 4; do
    awk -v s=$server -v c=$column '$1 == s {print $c}' "$work/results" | median >"$work/$server.$column"
  done
done
printf '\n| server | req/s (median) | p50 ms | p99 ms |\n|---|---|---|---|\n'
for server in httpcore nginx; do
  printf '| %s | %s | %s | %s |\n' $server "$(cat $work/$server.2)" "$(cat $work/$server.3)" "$(cat $work/$server.4)"
done
awk -v a="$(cat $work/httpcore.2)" -v b="$(cat $work/nginx.2)" -v p="$(cat $work/httpcore.4)" -v q="$(cat $work/nginx.4)" \
  'BEGIN { printf "\nratio httpcore/nginx: req/s %.2f, p99 %.2f\n", a / b, p / q }'
