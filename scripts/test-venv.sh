#!/usr/bin/env bash
# Creates the one Python virtual environment the Feast tests and bench/feast.sh share (the Feast
# SDK and `feast serve`, pinned in Tests/feast/requirements.txt), once: it is rebuilt only when the
# requirements change. Prints its directory. Several callers at once wait for the first.
#   scripts/test-venv.sh            (FEATURESERVER_TEST_VENV overrides .build/test-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${FEATURESERVER_TEST_VENV:-$PWD/.build/test-venv}"
requirements=Tests/feast/requirements.txt
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  echo "test-venv: installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$venv/requirements.txt"
fi
echo "$venv"
