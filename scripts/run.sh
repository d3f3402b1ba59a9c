#!/usr/bin/env bash
# The newcomer's first command: install what is missing, build in release mode, and serve.
#   scripts/run.sh [featureserver serve flags...]      e.g. scripts/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product featureserver
exec .build/release/featureserver serve "$@"
