#!/usr/bin/env bash
# Runs every test: unit tests, wire-level tests with curl, Python's http.client and wrk, and the
# real binaries. Installs what is missing first.
#   scripts/test.sh [swift test flags...]              e.g. scripts/test.sh --filter Router
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Feast SDK and `feast serve` the Feast tests compare with (a minute the first time).
bash scripts/test-venv.sh >/dev/null
swift build --build-tests
swift test --skip-build "$@"
