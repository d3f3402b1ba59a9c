#!/usr/bin/env bash
# Installs what featureserver needs on Debian (bookworm): the C libraries it links, Redis, and the
# real clients the tests and benchmarks use (python3-numpy checks the drift statistics; the Feast SDK
# goes into a virtual environment, scripts/test-venv.sh). Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(libhiredis-dev libnghttp2-dev redis-server redis-tools curl wrk nginx-light nghttp2-client python3 pkg-config
  prometheus python3-numpy python3-scipy python3-h2 python3-venv
  default-jre-headless chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts nginx, redis-server and prometheus as services on install; the project starts
  # its own, on private ports.
  for service in nginx redis-server prometheus prometheus-node-exporter; do
    $sudo_cmd service "$service" stop >/dev/null 2>&1 || true
  done
fi
command -v swift >/dev/null || {
  echo "setup: swift is not on PATH (Swift 6.x toolchain required, e.g. /opt/swift/usr/bin)" >&2
  exit 1
}
