#!/usr/bin/env bash
# HTTP/2 (h2c) GET /features/customer/<random id> with h2load, side by side in one run:
# featureserver (one thread, cache on) against nginx (one worker, `listen ... http2`, prior
# knowledge h2c) answering the same bytes, for -c10 -m10, -c100 -m1 and -c4 -m100; and
# featureserver's HTTP/1.1 (h2load --h1, -c100) against its HTTP/2 at -c10 -m10. Rounds alternate
# servers; medians and ratios at the end.
#
#   bench/h2.sh                                 # REQUESTS=200000 ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

REQUESTS=${REQUESTS:-200000}
ROUNDS=${ROUNDS:-3}
THREADS=1
command -v h2load >/dev/null && command -v nginx >/dev/null || {
  echo "needs h2load and nginx: apt-get install -y nghttp2-client nginx-light" >&2
  exit 2
}
work=$(mktemp -d)
. bench/stack.sh
SKIP_REFERENCE=1
trap 'kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null; stack_cleanup' EXIT
stack_setup
start_ours featureserver --cache-ttl 5

# The same random customer ids for both (bench/lua/features.lua draws from 1..5000 too).
python3 -c 'import random; random.seed(7); [print(f"/features/customer/{random.randint(1, 5000)}") for _ in range(20000)]' \
  >"$work/uris"
body=$(curl -s "http://127.0.0.1:${ports[featureserver]}/features/customer/42")
case "$body" in *'"status":"PRESENT"'*) ;; *) echo "featureserver answered: $body" >&2; exit 1 ;; esac
nginx_port=$(free_port)
start_nginx "$work" "$nginx_port" 1 "$body" http2
[ "$(curl -s --http2-prior-knowledge "http://127.0.0.1:$nginx_port/features/customer/1")" = "$body" ] || {
  echo "nginx h2c body differs" >&2
  exit 1
}

# run_h2load LABEL ARGS...: prints "LABEL req/s failed".
run_h2load() {
  local label=$1 out
  shift
  out=$(h2load -t1 -n "$REQUESTS" "$@" 2>&1)
  local rps failed
  rps=$(echo "$out" | awk '/^finished in/ {print $4}')
  failed=$(echo "$out" | awk '/^requests:/ {print $10}')
  echo "$label ${rps:-0} ${failed:-nan}"
}

ours="http://127.0.0.1:${ports[featureserver]}"
theirs="http://127.0.0.1:$nginx_port"
for base in "$ours" "$theirs"; do h2load -t1 -n 20000 -c10 -m10 -i "$work/uris" -B "$base" >/dev/null 2>&1; done
echo "# bench/h2.sh $(date -u +%FT%TZ) $(nproc) cores, featureserver threads=1 (cache on), nginx 1 worker, h2load -t1 -n $REQUESTS"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for shape in "c10-m10:-c10 -m10" "c100-m1:-c100 -m1" "c4-m100:-c4 -m100"; do
    label=${shape%%:*}
    read -ra flags <<<"${shape#*:}"
    run_h2load "ours-h2-$label" "${flags[@]}" -i "$work/uris" -B "$ours" | tee -a "$work/results"
    run_h2load "nginx-h2-$label" "${flags[@]}" -i "$work/uris" -B "$theirs" | tee -a "$work/results"
  done
  run_h2load "ours-h1-c100" --h1 -c100 -i "$work/uris" -B "$ours" | tee -a "$work/results"
done

printf '\n| server | shape | req/s (median) | failed (median) |\n|---|---|---|---|\n'
for name in $(awk '{print $1}' "$work/results" | sort -u); do
  printf '| %s | %s | %s | %s |\n' "${name%-*-*}" "${name#*-*-}" \
    "$(awk -v s="$name" '$1 == s {print $2}' "$work/results" | median)" \
    "$(awk -v s="$name" '$1 == s {print $3}' "$work/results" | median)"
done
for label in c10-m10 c100-m1 c4-m100; do
  a=$(awk -v s="ours-h2-$label" '$1 == s {print $2}' "$work/results" | median)
  b=$(awk -v s="nginx-h2-$label" '$1 == s {print $2}' "$work/results" | median)
  awk -v a="$a" -v b="$b" -v l="$label" 'BEGIN { printf "ratio ours/nginx h2 %s: %.2fx\n", l, a / b }'
done
a=$(awk '$1 == "ours-h2-c10-m10" {print $2}' "$work/results" | median)
b=$(awk '$1 == "ours-h1-c100" {print $2}' "$work/results" | median)
awk -v a="$a" -v b="$b" 'BEGIN { printf "ratio ours h2 -c10 -m10 / ours HTTP/1.1 -c100: %.2fx\n", a / b }'
