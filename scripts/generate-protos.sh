#!/usr/bin/env bash
# Regenerates the Swift code of Feast's registry messages (proto/ → Sources/FeatureServer/Feast/Generated/).
# Not part of the build: the generated code is committed. Needs protoc (Debian: protobuf-compiler)
# and builds swift-protobuf 1.39's protoc-gen-swift once under .build/protoc-gen-swift (about ten
# minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "needs protoc: apt-get install -y protobuf-compiler" >&2; exit 2; }
plugin_dir=.build/protoc-gen-swift
if [ ! -x "$plugin_dir/.build/release/protoc-gen-swift" ]; then
  rm -rf "$plugin_dir"
  git clone -q --branch 1.39.0 https://github.com/apple/swift-protobuf "$plugin_dir"
  swift build -c release --package-path "$plugin_dir" --product protoc-gen-swift
fi
out=Sources/FeatureServer/Feast/Generated
mkdir -p "$out"
rm -f "$out"/*.pb.swift
protoc --plugin=protoc-gen-swift="$plugin_dir/.build/release/protoc-gen-swift" \
  --swift_opt=Visibility=Internal --swift_opt=FileNaming=PathToUnderscores \
  --swift_out="$out" -I proto proto/feast/types/Value.proto proto/feast/core/Registry.proto
echo "generated: $(ls "$out")"
