// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "featureserver",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "featureserver", targets: ["FeatureServerCLI"]),
    .executable(name: "http-bench-server", targets: ["HTTPBenchServer"]),
    .executable(name: "http-parser-fuzz", targets: ["HTTPParserFuzz"]),
    .executable(name: "feature-decoders-fuzz", targets: ["FeatureDecodersFuzz"]),
    .executable(name: "redis-pool-bench", targets: ["RedisPoolBench"]),
    .executable(name: "micro-bench", targets: ["MicroBench"]),
    .executable(name: "loadgen", targets: ["LoadGenCLI"]),
    .library(name: "LoadGen", targets: ["LoadGen"]),
    .library(name: "Reactor", targets: ["Reactor"]),
    .library(name: "Codecs", targets: ["Codecs"]),
    .library(name: "HTTPCore", targets: ["HTTPCore"]),
    .library(name: "RedisPool", targets: ["RedisPool"]),
    .library(name: "FeatureServer", targets: ["FeatureServer"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
  ],
  targets: [
    .target(name: "CLinux"),
    .systemLibrary(
      name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
    .systemLibrary(
      name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
    .target(name: "Codecs"),
    .target(
      name: "Reactor", dependencies: ["CLinux", .product(name: "Logging", package: "swift-log")],
      // Reactor and RedisPool as HTTPCore: the loop's and the connections' class fields are
      // touched for every reply; without the run-time exclusivity checks a cache-miss GET is
      // ~1,300 instructions shorter under callgrind (BENCHMARKS.md, issue 16). Debug builds
      // keep the checks.
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    .target(
      name: "HTTPCore",
      dependencies: ["Reactor", "Codecs", "CLinux", "CNghttp2", .product(name: "Logging", package: "swift-log")],
      // Release builds leave out the run-time exclusivity checks in this module only: the
      // connection's input and output buffers are handed `inout` to the framing code, which makes
      // every access to them a checked one (about 1,400 instructions a request under callgrind,
      // the whole of the 6 % the HTTP/1.1 cache-hit path lost in the module split; BENCHMARKS.md).
      // Debug builds, which run the tests (and the fuzzers), keep the checks.
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    .target(
      name: "RedisPool",
      dependencies: [
        "Reactor", "Codecs", "CHiredis", .product(name: "Atomics", package: "swift-atomics"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    .target(
      name: "FeatureServer",
      dependencies: [
        "Reactor", "Codecs", "HTTPCore", "RedisPool", "Yams", .product(name: "Atomics", package: "swift-atomics"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      // As HTTPCore: every cache lookup touches a shard's class fields (its dictionary, its
      // clock list), each a run-time-checked access: ~560 instructions of a cache-hit GET
      // under callgrind (swift_beginAccess and its thread-local access set). Debug builds keep
      // the checks.
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    .target(
      name: "CommandLineEnvironment",
      dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
    .executableTarget(
      name: "FeatureServerCLI",
      dependencies: [
        "Reactor", "Codecs", "HTTPCore", "RedisPool", "FeatureServer", "CommandLineEnvironment",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    .target(
      name: "LoadGen",
      dependencies: [
        "Reactor", "Codecs", "HTTPCore", "Yams", .product(name: "Histogram", package: "hdrhistogram-swift"),
      ],
      // As HTTPCore: the users' request buffers and the loop's statistics are class fields
      // touched on every request, and the run-time exclusivity checks on them were ~450
      // instructions a request under callgrind (BENCHMARKS.md, loadgen). Debug builds keep them.
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
    .executableTarget(
      name: "LoadGenCLI",
      dependencies: [
        "LoadGen", "Reactor", "Codecs", "HTTPCore", "CommandLineEnvironment",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "HTTPBenchServer", dependencies: ["Reactor", "Codecs", "HTTPCore"]),
    .executableTarget(name: "RedisPoolBench", dependencies: ["Reactor", "RedisPool"]),
    .executableTarget(
      name: "MicroBench",
      dependencies: ["FeatureServer", "RedisPool", .product(name: "Prometheus", package: "swift-prometheus")]),
    .target(name: "CFuzzerDriver"),
    .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPCore", "CFuzzerDriver"]),
    .executableTarget(name: "FeatureDecodersFuzz", dependencies: ["FeatureServer", "RedisPool", "CFuzzerDriver"]),
    .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
    .testTarget(
      name: "ReactorTests", dependencies: ["Reactor", "TestSupport"], swiftSettings: [.swiftLanguageMode(.v5)]),
    .testTarget(
      name: "HTTPCoreTests", dependencies: ["Reactor", "Codecs", "HTTPCore", "TestSupport"],
      swiftSettings: [.swiftLanguageMode(.v5)]),
    .testTarget(
      name: "FeatureServerTests",
      dependencies: ["FeatureServer", "Reactor", "Codecs", "HTTPCore", "RedisPool", "TestSupport"],
      exclude: ["Fixtures"],
      swiftSettings: [.swiftLanguageMode(.v5)]),
    .testTarget(
      name: "LoadGenTests",
      dependencies: [
        "LoadGen", "Reactor", "HTTPCore", "TestSupport", .product(name: "Atomics", package: "swift-atomics"),
      ],
      exclude: ["Fixtures"],
      swiftSettings: [.swiftLanguageMode(.v5)]),
    .testTarget(
      name: "RedisPoolTests", dependencies: ["RedisPool", "Reactor", "TestSupport"],
      swiftSettings: [.swiftLanguageMode(.v5)]),
  ]
)
