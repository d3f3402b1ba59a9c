#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time and fails on a crash or when libFuzzer did not
# actually run (a missing driver call makes the binary exit 0 at once, fuzzing nothing).
#   .ci/fuzz.sh [SECONDS]     (default 60, per target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
# target:corpus folder:max input length
targets=("http-parser-fuzz:http:4096" "feature-decoders-fuzz:decoders:16384")
for target in "${targets[@]}"; do
  IFS=: read -r product corpus_name max_len <<<"$target"
  swift build --scratch-path .build-fuzz --product "$product" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
  corpus=$(mktemp -d)
  cp "Tests/fuzz-corpus/$corpus_name"/* "$corpus"/
  log=$(mktemp)
  set +e
  ".build-fuzz/debug/$product" -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 "$corpus" >"$log" 2>&1
  status=$?
  set -e
  tail -n 15 "$log"
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  rm -rf "$corpus" "$log"
  if [ "$status" -ne 0 ]; then echo "fuzz: $product: libFuzzer exited $status (a crash or a sanitizer report above)"; exit 1; fi
  if [ -z "$runs" ] || [ "$runs" -le 0 ]; then echo "fuzz: $product: libFuzzer did not run"; exit 1; fi
  echo "fuzz: $product: $runs runs in ${seconds}s, no crash"
done
