#!/usr/bin/env bash
# What a change buys: two featureserver builds on the same redis-server, alternating round by
# round under `wrk -t1 -c$CONNECTIONS -d$DURATION --latency`, with the steal time of each round.
# BEFORE is a git revision (built once in a worktree under .build/ab/<rev>) or a binary; the
# other side is the working tree's release build.
#
#   bench/ab.sh BEFORE [features|predict] [serve flags...]
#   bench/ab.sh d815039 features --cache-ttl 0      # CONNECTIONS=100 DURATION=10s ROUNDS=5
#   CONNECTIONS=10 bench/ab.sh /tmp/featureserver-old predict
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

before=${1:?usage: bench/ab.sh BEFORE [features|predict] [serve flags...]}
route=${2:-features}
shift $(($# >= 2 ? 2 : 1))
CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-1}
SKIP_REFERENCE=1
case "$route" in
  features) lua=bench/lua/features.lua ;;
  predict) lua=bench/lua/predict.lua ;;
  *) echo "route must be features or predict, got '$route'" >&2; exit 2 ;;
esac

if [ -x "$before" ]; then
  before_binary=$before
else
  revision=$(git rev-parse --short "$before")
  tree=.build/ab/$revision
  if [ ! -x "$tree/.build/release/featureserver" ]; then
    rm -rf "$tree"
    mkdir -p .build/ab
    git worktree add --detach "$tree" "$revision" >/dev/null
    (cd "$tree" && swift build -c release --product featureserver >/dev/null)
  fi
  before_binary=$tree/.build/release/featureserver
fi

work=$(mktemp -d)
. bench/stack.sh
trap stack_cleanup EXIT
stack_setup
BINARY=$before_binary start_ours before "$@"
start_ours after "$@"
for name in before after; do
  wrk -t1 -c"$CONNECTIONS" -d3s -s "$lua" "http://127.0.0.1:${ports[$name]}" >/dev/null
done

echo "# bench/ab.sh $(date -u +%FT%TZ) $(nproc) cores, before=$before route=$route flags='$*', wrk -t1 -c$CONNECTIONS -d$DURATION"
: >"$work/results"
for round in $(seq 1 "$ROUNDS"); do
  for name in before after; do
    run_wrk "$name" -t1 -c"$CONNECTIONS" -d"$DURATION" -s "$lua" "http://127.0.0.1:${ports[$name]}" |
      tee -a "$work/results"
  done
done
summarize before after
ratio after before
