import Foundation
import TestSupport
import XCTest

/// The real `featureserver` over its own redis-server with the bundled data loaded: the target
/// the distributed tests load.
final class FeatureServerTarget {
  let redis: RedisServerProcess
  let server: ServerProcess
  var url: String { "http://127.0.0.1:\(server.port)" }

  init() throws {
    redis = try RedisServerProcess()
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    let redisURL = "redis://127.0.0.1:\(redis.port)"
    for (file, entity) in [("customers", "customer"), ("accounts", "account"), ("merchants", "merchant")] {
      let path = packageRoot.appendingPathComponent("data/\(file).csv").path
      let loaded = try runCommand(
        binary, ["load", "--redis-url", redisURL, "--entity", entity, "--shift-timestamps-to-now", path])
      guard loaded.status == 0 else { throw ServerProcessError("load \(file): \(loaded.output)") }
    }
    server = try ServerProcess(arguments: ["--threads", "1", "--redis-url", redisURL])
  }

  func stop() { server.stop() }
}
