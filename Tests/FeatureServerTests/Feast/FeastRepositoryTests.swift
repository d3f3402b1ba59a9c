import Foundation
import XCTest

@testable import FeatureServer

/// `feature_store.yaml` as Feast writes it, and the clear refusals for what featureserver does not
/// serve.
final class FeastRepositoryTests: XCTestCase {
  private var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "feast-repo-test-\(getpid())-\(name.hashValue)")
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
    var registry = Feast_Core_Registry()
    var entity = Feast_Core_Entity()
    entity.spec.name = "card"
    entity.spec.joinKey = "card_id"
    entity.spec.project = "fraud"
    entity.spec.valueType = .int64
    registry.entities.append(entity)
    try Data(registry.serializedBytes() as [UInt8]).write(to: directory.appendingPathComponent("data/registry.db"))
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  private func load(_ yaml: String, environment: [String: String] = [:]) throws -> FeastRepository {
    try yaml.write(to: directory.appendingPathComponent("feature_store.yaml"), atomically: true, encoding: .utf8)
    return try FeastRepository.load(directory: directory.path, environment: environment)
  }

  private func refusal(_ yaml: String) -> String {
    do {
      _ = try load(yaml)
      return "(loaded)"
    } catch {
      return "\(error)"
    }
  }

  private let valid = """
    project: fraud
    registry: data/registry.db
    provider: local
    online_store:
      type: redis
      connection_string: "redis.internal:6380,password=p@ss,db=2"
      key_ttl_seconds: 86400
    entity_key_serialization_version: 3
    """

  func testTheRedisConnectionStringBecomesARedisURL() throws {
    let repository = try load(valid)
    XCTAssertEqual(repository.project, "fraud")
    XCTAssertEqual(repository.redisURL, "redis://:p%40ss@redis.internal:6380/2")
    XCTAssertEqual(repository.keyTTLSeconds, 86400)
    XCTAssertEqual(repository.registryPath, directory.appendingPathComponent("data/registry.db").path)
    XCTAssertEqual(repository.registry.joinKeyOfEntity["card"], "card_id")
  }

  func testEnvironmentVariablesAreExpandedAsFeastExpandsThem() throws {
    let yaml = valid.replacingOccurrences(
      of: "redis.internal:6380,password=p@ss,db=2", with: "${REDIS_HOST}:$REDIS_PORT")
    let repository = try load(yaml, environment: ["REDIS_HOST": "10.1.2.3", "REDIS_PORT": "7000"])
    XCTAssertEqual(repository.redisURL, "redis://10.1.2.3:7000")
  }

  func testWhatFeaturesServerCannotServeIsRefusedWithTheReason() {
    let cases: [(String, String, String)] = [
      ("entity_key_serialization_version: 3", "entity_key_serialization_version: 2", "version 2 is not supported"),
      ("type: redis", "type: sqlite", "'sqlite' is not supported"),
      ("key_ttl_seconds: 86400", "redis_type: redis_sentinel", "'redis_sentinel' is not supported"),
      ("key_ttl_seconds: 86400", "key_ttl_seconds: -5", "key_ttl_seconds must be a positive"),
      ("db=2", "db=2,ssl=true", "ssl=true"),
      ("db=2", "db=two", "db must be a number"),
      ("registry: data/registry.db", "registry: gs://bucket/registry.db", "is remote (gs)"),
      ("registry: data/registry.db", "registry: data/missing.db", "run `feast apply` first"),
      ("project: fraud", "project: fraud-detection", "only letters, digits and underscores"),
      ("project: fraud", "", "missing 'project'"),
    ]
    for (original, replacement, reason) in cases {
      let message = refusal(valid.replacingOccurrences(of: original, with: replacement))
      XCTAssertTrue(message.contains(reason), "\(replacement): \(message)")
    }
    XCTAssertTrue(refusal("project: [unclosed").contains("not valid YAML"))
  }

  func testARegistryThatIsNotAProtobufIsRefusedNotTrapped() throws {
    for garbage in [Data([0xff, 0xff, 0xff]), Data(repeating: 0x0a, count: 4096), Data("not a registry".utf8)] {
      try garbage.write(to: directory.appendingPathComponent("data/registry.db"))
      XCTAssertTrue(refusal(valid).contains("registry"), refusal(valid))
    }
  }

  func testEveryFeastLimitOutsideItsRangeIsRefusedNamingItsFlag() {
    func refusal(_ change: (inout FeastConfiguration) -> Void) -> String {
      var configuration = FeastConfiguration()
      change(&configuration)
      do {
        try configuration.validate()
        return "(accepted)"
      } catch {
        return "\(error)"
      }
    }
    XCTAssertEqual(refusal { _ in }, "(accepted)")
    XCTAssertEqual(refusal { $0.maxEntityRows = 0 }, "feast-max-entity-rows must be 1...1000000, got 0")
    XCTAssertEqual(refusal { $0.maxFeatures = 100_001 }, "feast-max-features must be 1...100000, got 100001")
    XCTAssertEqual(refusal { $0.maxRowReads = -1 }, "feast-max-row-reads must be 1...10000000, got -1")
    XCTAssertEqual(refusal { $0.maxWriteRows = 0 }, "feast-max-write-rows must be 1...10000000, got 0")
    XCTAssertEqual(refusal { $0.writeBatch = 0 }, "feast-write-batch must be 1...100000, got 0")
    XCTAssertEqual(
      refusal { $0.registryRefreshSeconds = .nan },
      "feast-registry-refresh must be 0 or more and at most 604800 seconds, got nan")
    XCTAssertEqual(
      refusal { $0.registryRefreshSeconds = 1e300 },
      "feast-registry-refresh must be 0 or more and at most 604800 seconds, got 1e+300")
  }
}
