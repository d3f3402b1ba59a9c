#!/usr/bin/env bash
# How much load loadgen drives, and what latency it reports, against the same nginx (1 worker,
# `return 200` of a 400-byte JSON), side by side in one run with wrk and with real Locust
# (FastHttpUser, headless, one process): the same connections/users and duration. Rounds
# alternate the generators; medians at the end.
#   bench/loadgen.sh          # USERS=50 DURATION=15 ROUNDS=3 (loadgen and wrk on 1 thread)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
USERS=${USERS:-50}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}

swift build -c release --product loadgen >/dev/null
venv=bench/.venv-locust
if [ ! -x "$venv/bin/locust" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q "locust==2.47.0"

work=$(mktemp -d)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
body=$(python3 -c 'import json; print(json.dumps({"entity": "customer", "id": "42", "pad": "x" * 347}))')
port=$(free_port)
start_nginx "$work" "$port" 1 "$body"
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

echo "# bench/loadgen.sh $(date -u +%FT%TZ) $(nproc) cores, nginx 1 worker, $USERS connections/users, ${DURATION}s, $ROUNDS rounds"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  run_wrk wrk -t1 -c"$USERS" -d"${DURATION}s" "http://127.0.0.1:$port/json" | tee -a "$work/results"
  .build/release/loadgen --host "http://127.0.0.1:$port" --scenario "$work/scenario.yaml" -u "$USERS" -r 100000 \
    -t "${DURATION}s" --threads 1 --json >"$work/loadgen.json"
  python3 - "$work/loadgen.json" <<'PY' | tee -a "$work/results"
import json, sys
total = json.load(open(sys.argv[1]))["total"]
print(f"loadgen {total['rps']:.2f} {total['percentiles_ms']['50']:.3f} {total['percentiles_ms']['99']:.3f} {total['failures']}")
PY
  (cd "$work" && "$OLDPWD/$venv/bin/locust" -f locustfile.py --headless -u "$USERS" -r "$USERS" -t "${DURATION}s" \
    --host "http://127.0.0.1:$port" --csv "$work/locust" --only-summary >/dev/null 2>&1 || true)
  python3 - "$work/locust_stats.csv" <<'PY' | tee -a "$work/results"
import csv, sys
row = [r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated"][0]
print(f"locust {float(row['Requests/s']):.2f} {row['50%']} {row['99%']} {row['Failure Count']}")
PY
done
printf '\n| generator | req/s driven (median) | reported p50 ms | reported p99 ms | failures |\n|---|---|---|---|---|\n'
for name in wrk loadgen locust; do
  printf '| %s |' "$name"
  for column in 2 3 4 5; do
    printf ' %s |' "$(awk -v s="$name" -v c=$column '$1 == s {print $c}' "$work/results" | median)"
  done
  printf '\n'
done
for pair in "loadgen wrk" "loadgen locust"; do
  set -- $pair
  a=$(awk -v s="$1" '$1 == s {print $2}' "$work/results" | median)
  b=$(awk -v s="$2" '$1 == s {print $2}' "$work/results" | median)
  awk -v a="$a" -v b="$b" -v x="$1" -v y="$2" 'BEGIN { printf "ratio %s / %s: %.2fx req/s\n", x, y, a / b }'
done
