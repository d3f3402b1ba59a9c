#!/usr/bin/env bash
# Runs the HTTP parser fuzz target for a bounded time and fails on a crash or when libFuzzer did
# not actually run (a missing driver call makes the binary exit 0 at once, fuzzing nothing).
#   .ci/fuzz.sh [SECONDS]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
swift build --scratch-path .build-fuzz --product http-parser-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DFUZZING
corpus=$(mktemp -d)
cp Tests/fuzz-corpus/http/* "$corpus"/
log=$(mktemp)
set +e
.build-fuzz/debug/http-parser-fuzz -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$corpus" >"$log" 2>&1
status=$?
set -e
tail -n 15 "$log"
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
rm -rf "$corpus" "$log"
if [ "$status" -ne 0 ]; then echo "fuzz: libFuzzer exited $status (a crash or a sanitizer report above)"; exit 1; fi
if [ -z "$runs" ] || [ "$runs" -le 0 ]; then echo "fuzz: libFuzzer did not run"; exit 1; fi
echo "fuzz: $runs runs in ${seconds}s, no crash"
