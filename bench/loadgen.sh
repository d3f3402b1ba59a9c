#!/usr/bin/env bash
# How much load loadgen drives, and at what CPU cost, against the same nginx (1 worker,
# `return 200` of a 400-byte JSON), side by side in one run with wrk and with real Locust
# (FastHttpUser, headless): one process each, and a master with 2 workers for loadgen and Locust.
# Same connections/users and duration; rounds alternate the generators; medians at the end.
# CPU seconds are the generator's own (user + system of the process and its children), so
# "requests per CPU-second" compares what each generator costs, whatever the machine's limit.
#   bench/loadgen.sh          # USERS=100 DURATION=15 ROUNDS=3 (loadgen and wrk on 1 thread)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
USERS=${USERS:-100}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}

swift build -c release --product loadgen >/dev/null
venv=bench/.venv-locust
if [ ! -x "$venv/bin/locust" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q "locust==2.47.0"
loadgen=$PWD/.build/release/loadgen
locust=$PWD/$venv/bin/locust

work=$(mktemp -d)
pids=()
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; stop_started' EXIT
body=$(python3 -c 'import json; print(json.dumps({"entity": "customer", "id": "42", "pad": "x" * 347}))')
port=$(free_port)
start_nginx "$work" "$port" 1 "$body"
target="http://127.0.0.1:$port"
cat >"$work/scenario.yaml" <<YAML
name: nginx
requests:
  - {path: /json, expect_status: 200}
YAML
cat >"$work/locustfile.py" <<'PY'
from locust import FastHttpUser, task

class JsonUser(FastHttpUser):
    @task
    def json(self):
        self.client.get("/json")
PY

# timed LABEL OUT COMMAND...: runs COMMAND with its standard output in OUT, appends "LABEL
# cpu_seconds" (user + system of it and its children) to $work/cpu.
timed() {
  local label=$1 out=$2
  shift 2
  local TIMEFORMAT='%U %S'
  { time "$@" >"$out" 2>/dev/null; } 2>"$work/time" || true
  awk -v l="$label" '{ print l, $1 + $2 }' "$work/time" >>"$work/cpu"
}

# Prints "LABEL rps p50 p99 failures" from Locust's stats CSV.
locust_line() {
  python3 - "$1" "$2" <<'PY'
import csv, sys
row = [r for r in csv.DictReader(open(sys.argv[2])) if r["Name"] == "Aggregated"][0]
print(f"{sys.argv[1]} {float(row['Requests/s']):.2f} {row['50%']} {row['99%']} {row['Failure Count']}")
PY
}

echo "# bench/loadgen.sh $(date -u +%FT%TZ) $(nproc) cores, nginx 1 worker, $USERS connections/users, ${DURATION}s, $ROUNDS rounds"
: >"$work/results"
: >"$work/cpu"
for round in $(seq 1 "$ROUNDS"); do
  TIMEFORMAT='%U %S'
  { time wrk --latency -t1 -c"$USERS" -d"${DURATION}s" "$target/json" >"$work/wrk.out" 2>&1; } 2>"$work/time"
  awk '{ print "wrk", $1 + $2 }' "$work/time" >>"$work/cpu"
  echo "wrk $(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out") $(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk.out")") $(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.out")") 0" |
    tee -a "$work/results"

  timed loadgen "$work/loadgen.json" "$loadgen" --host "$target" --scenario "$work/scenario.yaml" -u "$USERS" \
    -r 100000 -t "${DURATION}s" --threads 1 --json --quiet
  loadgen_line loadgen "$work/loadgen.json" | tee -a "$work/results"

  mport=$(free_port)
  distributed() {
    "$loadgen" --master --expect-workers 2 --master-bind-host 127.0.0.1 --master-bind-port "$mport" \
      --host "$target" --scenario "$work/scenario.yaml" -u "$USERS" -r 100000 -t "${DURATION}s" --json --quiet &
    local master=$!
    "$loadgen" --worker --master-port "$mport" --threads 1 2>/dev/null &
    local first=$!
    "$loadgen" --worker --master-port "$mport" --threads 1 2>/dev/null
    wait "$first" "$master"
  }
  timed "loadgen-2w" "$work/fleet.json" distributed
  loadgen_line "loadgen-2w" "$work/fleet.json" | tee -a "$work/results"

  timed locust /dev/null bash -c "cd '$work' && '$locust' -f locustfile.py --headless -u $USERS -r $USERS -t ${DURATION}s \
    --host '$target' --csv '$work/locust' --only-summary"
  locust_line locust "$work/locust_stats.csv" | tee -a "$work/results"

  lport=$(free_port)
  timed "locust-2w" /dev/null bash -c "cd '$work' && ( '$locust' -f locustfile.py --worker --master-port $lport & \
    '$locust' -f locustfile.py --worker --master-port $lport & \
    '$locust' -f locustfile.py --master --master-bind-host 127.0.0.1 --master-bind-port $lport --expect-workers 2 \
      --headless -u $USERS -r $USERS -t ${DURATION}s --host '$target' --csv '$work/locust2' --only-summary; wait )"
  locust_line "locust-2w" "$work/locust2_stats.csv" | tee -a "$work/results"
done
printf '\n| generator | req/s driven (median) | reported p50 ms | reported p99 ms | failures | CPU s | req per CPU-second |\n'
printf '|---|---|---|---|---|---|---|\n'
for name in wrk loadgen loadgen-2w locust locust-2w; do
  printf '| %s |' "$name"
  for column in 2 3 4 5; do
    printf ' %s |' "$(awk -v s="$name" -v c=$column '$1 == s {print $c}' "$work/results" | median)"
  done
  rps=$(awk -v s="$name" '$1 == s {print $2}' "$work/results" | median)
  cpu=$(awk -v s="$name" '$1 == s {print $2}' "$work/cpu" | median)
  awk -v r="$rps" -v c="$cpu" -v d="$DURATION" 'BEGIN { printf " %.1f | %.0f |\n", c, (c > 0 ? r * d / c : 0) }'
done
for pair in "loadgen wrk" "loadgen locust" "loadgen-2w locust-2w"; do
  set -- $pair
  a=$(awk -v s="$1" '$1 == s {print $2}' "$work/results" | median)
  b=$(awk -v s="$2" '$1 == s {print $2}' "$work/results" | median)
  ca=$(awk -v s="$1" '$1 == s {print $2}' "$work/cpu" | median)
  cb=$(awk -v s="$2" '$1 == s {print $2}' "$work/cpu" | median)
  awk -v a="$a" -v b="$b" -v ca="$ca" -v cb="$cb" -v x="$1" -v y="$2" \
    'BEGIN { printf "ratio %s / %s: %.2fx req/s, %.1fx requests per CPU-second\n", x, y, a / b, (a / ca) / (b / cb) }'
done
# Paired per round (the generators of one round ran minutes apart, not hours): this VM's speed
# drifts by a third over a day, so the median of the per-round ratios is the steadier figure.
for pair in "loadgen wrk" "loadgen locust" "loadgen-2w locust-2w"; do
  set -- $pair
  awk -v x="$1" -v y="$2" '
    FILENAME ~ /results$/ { if ($1 == x) rx[++nx] = $2; if ($1 == y) ry[++ny] = $2 }
    FILENAME ~ /cpu$/ { if ($1 == x) cx[++mx] = $2; if ($1 == y) cy[++my] = $2 }
    END {
      for (i = 1; i <= nx && i <= ny; i++)
        printf "%.3f %.2f\n", rx[i] / ry[i], (cx[i] > 0 && cy[i] > 0) ? (rx[i] / cx[i]) / (ry[i] / cy[i]) : 0
    }' "$work/results" "$work/cpu" >"$work/paired"
  printf 'per round %s / %s: req/s %s; per CPU-second %s; medians %.2fx and %.1fx\n' "$1" "$2" \
    "$(cut -d' ' -f1 "$work/paired" | tr '\n' ' ')" "$(cut -d' ' -f2 "$work/paired" | tr '\n' ' ')" \
    "$(cut -d' ' -f1 "$work/paired" | median)" "$(cut -d' ' -f2 "$work/paired" | median)"
done
