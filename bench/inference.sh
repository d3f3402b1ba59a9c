#!/usr/bin/env bash
# Inference alone, for the shipped model (models/fraud_xgb.json): the Swift evaluator scoring
# the 1 000 parity rows one at a time (micro-bench --suite model), against the xgboost package
# on the same rows, one row per call (what a Python service does per request) and all 1 000 in
# one call (its best case per row); and what the drift bookkeeping adds per prediction (one
# input vector into the histograms). ROUNDS runs each; medians in microseconds per prediction.
#   bench/inference.sh        # ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ROUNDS=${ROUNDS:-5}
venv=bench/.venv-reference
swift build -c release --product micro-bench >/dev/null
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q -r bench/reference/requirements.txt
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
for _ in $(seq 1 "$ROUNDS"); do
  read -r swift drift <<<"$(.build/release/micro-bench --suite model --iterations 1000000)"
  python=$("$venv/bin/python" - <<'PY'
import csv, time
import numpy as np, xgboost as xgb
booster = xgb.Booster(model_file="models/fraud_xgb.json")
booster.set_param({"nthread": 1})
with open("Tests/FeatureServerTests/Fixtures/fraud_xgb_parity.csv") as handle:
    rows = [[float(v) if v else float("nan") for v in row[:-1]] for row in list(csv.reader(handle))[1:]]
matrix = np.array(rows, dtype=np.float32)
singles = [matrix[i:i + 1] for i in range(len(matrix))]
for single in singles[:100]:
    booster.inplace_predict(single)
start = time.perf_counter()
for _ in range(5):
    for single in singles:
        booster.inplace_predict(single)
one = (time.perf_counter() - start) / (5 * len(singles)) * 1e6
start = time.perf_counter()
for _ in range(50):
    booster.inplace_predict(matrix)
batch = (time.perf_counter() - start) / (50 * len(matrix)) * 1e6
print(f"{one:.2f} {batch:.3f}")
PY
)
  echo "$(awk -v s="$swift" 'BEGIN { printf "%.3f", s / 1000 }') $python $(awk -v s="$drift" 'BEGIN { printf "%.3f", s / 1000 }')" |
    tee -a "$samples"
done
echo "# bench/inference.sh $(date -u +%FT%TZ) $(nproc) cores, $ROUNDS rounds, models/fraud_xgb.json"
printf '| evaluator | µs per prediction (median) |\n|---|---|\n'
printf '| featureserver (Swift, one row per call) | %s |\n' "$(awk '{print $1}' "$samples" | median)"
printf '| xgboost %s inplace_predict, one row per call | %s |\n' "$("$venv/bin/python" -c 'import xgboost; print(xgboost.__version__)')" "$(awk '{print $2}' "$samples" | median)"
printf '| xgboost inplace_predict, 1 000 rows per call | %s |\n' "$(awk '{print $3}' "$samples" | median)"
printf '| featureserver drift bookkeeping (one vector into the histograms) | %s |\n' "$(awk '{print $4}' "$samples" | median)"
