// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "featureserver",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "featureserver", targets: ["FeatureServerCLI"]),
    .executable(name: "http-bench-server", targets: ["HTTPBenchServer"]),
    .executable(name: "http-parser-fuzz", targets: ["HTTPParserFuzz"]),
    .library(name: "HTTPCore", targets: ["HTTPCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .target(name: "CLinux"),
    .systemLibrary(
      name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
    .systemLibrary(
      name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
    .target(name: "HTTPCore", dependencies: ["CLinux"]),
    .executableTarget(
      name: "FeatureServerCLI",
      dependencies: [
        "HTTPCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(name: "HTTPBenchServer", dependencies: ["HTTPCore"]),
    .target(name: "CFuzzerDriver"),
    .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPCore", "CFuzzerDriver"]),
    .testTarget(
      name: "HTTPCoreTests", dependencies: ["HTTPCore"],
      swiftSettings: [.swiftLanguageMode(.v5)]),
  ]
)
