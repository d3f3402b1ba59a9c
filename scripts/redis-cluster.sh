#!/usr/bin/env bash
# A local Redis Cluster of 3 primaries and 3 replicas from Debian's redis-server, for benchmarks and
# trying cluster mode by hand (the tests start their own, Tests/TestSupport/RedisClusterProcess.swift).
#
#   scripts/redis-cluster.sh start DIR [FIRST_PORT]   # ports FIRST_PORT..+5 (default 17000), bus ports +10000
#   scripts/redis-cluster.sh stop DIR                 # kills the nodes by their pid files
#
# `start` prints the seed URL for --redis-url: redis+cluster://127.0.0.1:17000,127.0.0.1:17001
set -euo pipefail

command=${1:?usage: $0 start|stop DIR [FIRST_PORT]}
dir=${2:?usage: $0 start|stop DIR [FIRST_PORT]}
first=${3:-17000}

case "$command" in
start)
  [ "$first" -le 55530 ] || { echo "FIRST_PORT must be at most 55530 (the cluster bus uses port + 10000)" >&2; exit 2; }
  nodes=()
  for port in $(seq "$first" $((first + 5))); do
    mkdir -p "$dir/$port"
    redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "${NODE_TIMEOUT_MS:-2000}" --appendonly no --save '' --dir "$dir/$port" \
      --daemonize yes --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" --maxclients 2000
    nodes+=("127.0.0.1:$port")
  done
  for port in $(seq "$first" $((first + 5))); do
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
    { cat "$dir/create.log" >&2; exit 1; }
  for port in $(seq "$first" $((first + 5))); do
    until redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok'; do sleep 0.2; done
  done
  echo "redis+cluster://127.0.0.1:$first,127.0.0.1:$((first + 1))"
  ;;
stop)
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  ;;
*)
  echo "usage: $0 start|stop DIR [FIRST_PORT]" >&2
  exit 2
  ;;
esac
