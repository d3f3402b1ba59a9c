import Codecs
import Foundation
import RedisPool
import TestSupport
import XCTest

@testable import FeatureServer

/// Feast's API in process, over a real redis-server, on a repository built here (no Python):
/// writes, reads, the cache, bad stored data, Redis outages and the request limits.
final class FeastRoutesTests: XCTestCase {
  private var harness: FeatureServerHarness!

  override func setUpWithError() throws {
    // One loop: the cache is per loop until it is shared (issue 16), and the cache tests need
    // their second request to find the first one's row.
    harness = try FeatureServerHarness(threads: 1, feast: { port in try FeastTestRepository.serving(redisPort: port) })
  }

  override func tearDown() { harness?.stop() }

  private func write(_ rows: [(card: Int, amount: String, country: String, time: String)]) throws
    -> FeatureServerHarness.Reply
  {
    let df = """
      {"card_id": [\(rows.map { "\($0.card)" }.joined(separator: ","))],
       "amount": [\(rows.map(\.amount).joined(separator: ","))],
       "country": [\(rows.map { "\"\($0.country)\"" }.joined(separator: ","))],
       "counts": [\(rows.map { _ in "[1, 2]" }.joined(separator: ","))],
       "event_timestamp": [\(rows.map { "\"\($0.time)\"" }.joined(separator: ","))]}
      """
    return try harness.post("/write-to-online-store", #"{"feature_view_name": "card_stats", "df": \#(df)}"#)
  }

  private func read(_ cards: [Int], features: String = #""card_stats:amount","card_stats:country""#) throws
    -> FeatureServerHarness.Reply
  {
    try harness.post(
      "/get-online-features",
      #"{"features": [\#(features)], "entities": {"card_id": [\#(cards.map(String.init).joined(separator: ","))]}}"#)
  }

  private func values(_ reply: FeatureServerHarness.Reply, column: Int) -> [Any] {
    ((reply.json["results"] as? [[String: Any]])?[column]["values"] as? [Any]) ?? []
  }

  func testWrittenRowsAreReadBackAndANewerWriteIsVisibleAtOnceDespiteTheCache() throws {
    XCTAssertEqual(
      try write([(1, "10.5", "NZ", "2026-11-30T10:00:00Z"), (2, "NaN", "DE", "2026-11-30T10:00:00Z")]).body, "null")
    let first = try read([1, 2, 3])
    XCTAssertEqual(first.status, 200, first.body)
    XCTAssertEqual(first.headers["x-cache"], "MISS")
    XCTAssertEqual(first.json["metadata"] as? [String: [String]], ["feature_names": ["card_id", "amount", "country"]])
    XCTAssertEqual(values(first, column: 0) as? [Int], [1, 2, 3])
    XCTAssertEqual(values(first, column: 1).first as? Double, 10.5)
    XCTAssertTrue(values(first, column: 1)[1] is NSNull, "NaN is written as an empty value, as Feast writes it")
    XCTAssertEqual(values(first, column: 2).prefix(2).map { $0 as? String }, ["NZ", "DE"])
    XCTAssertTrue(
      first.body.contains(
        #""event_timestamps":["2026-11-30T10:00:00Z","2026-11-30T10:00:00Z","1970-01-01T00:00:00Z"]"#), first.body)
    XCTAssertEqual(try read([1, 2, 3]).headers["x-cache"], "HIT")

    XCTAssertEqual(try write([(1, "11.5", "FR", "2026-11-30T11:00:00Z")]).status, 200)
    let second = try read([1])
    XCTAssertEqual(values(second, column: 1).first as? Double, 11.5, "the write dropped the cached row")
    XCTAssertEqual(second.headers["x-cache"], "MISS")
  }

  func testEpochSecondsAHairBelowAWholeSecondKeepAValidTimestamp() throws {
    // 0.99999999999999994 s is 1e9 ns once multiplied out: a Timestamp holds at most 999 999 999.
    let df =
      #"{"card_id": [11], "amount": [1], "country": ["x"], "counts": [[]], "event_timestamp": [0.99999999999999994]}"#
    XCTAssertEqual(
      try harness.post("/write-to-online-store", #"{"feature_view_name": "card_stats", "df": \#(df)}"#).status, 200)
    let reply = try read([11])
    XCTAssertTrue(reply.body.contains(#""1970-01-01T00:00:00.999999999Z""#), reply.body)
  }

  func testAnOlderOrEqualEventNeverReplacesTheStoredRow() throws {
    XCTAssertEqual(try write([(7, "1.0", "NEW", "2026-11-30T12:00:00Z")]).status, 200)
    XCTAssertEqual(try write([(7, "2.0", "OLD", "2026-11-30T11:59:59.999999Z")]).status, 200)
    XCTAssertEqual(try write([(7, "3.0", "SAME", "2026-11-30T12:00:00Z")]).status, 200)
    // Within one write the latest row of a key wins, whatever the order.
    XCTAssertEqual(
      try write([(8, "1.0", "LATEST", "2026-11-30T12:00:01Z"), (8, "2.0", "EARLIER", "2026-11-30T12:00:00Z")]).status,
      200)
    let reply = try read([7, 8])
    XCTAssertEqual(values(reply, column: 2).map { $0 as? String }, ["NEW", "LATEST"])
  }

  func testPushWritesThroughItsPushSourceAndRefusesOfflineAndUnknownSources() throws {
    let df = #"{"card_id": [9], "amount": [5], "country": ["GB"], "counts": [[]], "event_timestamp": [1764504000]}"#
    let pushed = try harness.post("/push", #"{"push_source_name": "card_push", "df": \#(df), "to": "online"}"#)
    XCTAssertEqual(pushed.status, 200, pushed.body)
    XCTAssertEqual(values(try read([9]), column: 2).first as? String, "GB")
    XCTAssertEqual(
      try harness.post("/push", #"{"push_source_name": "card_push", "df": \#(df), "to": "offline"}"#).status, 501)
    let unknown = try harness.post("/push", #"{"push_source_name": "nope", "df": \#(df)}"#)
    XCTAssertEqual(unknown.status, 422)
    XCTAssertTrue(unknown.body.contains("PushSourceNotFoundException"), unknown.body)
  }

  func testWritesWithMissingColumnsOrValuesOfTheWrongTypeAreRefusedNamingTheCell() throws {
    let missing = try harness.post(
      "/write-to-online-store",
      #"{"feature_view_name": "card_stats", "df": {"card_id": [1], "amount": [1.0], "event_timestamp": ["2026-11-30T10:00:00"]}}"#
    )
    XCTAssertEqual(missing.status, 422)
    XCTAssertTrue(missing.body.contains("'country', 'counts'"), missing.body)
    let wrongType = try harness.post(
      "/write-to-online-store",
      #"{"feature_view_name": "card_stats", "df": {"card_id": [1, 2], "amount": [1.0, "x"], "country": ["a", "b"], "counts": [[], []], "event_timestamp": ["2026-11-30T10:00:00", "2026-11-30T10:00:00"]}}"#
    )
    XCTAssertEqual(wrongType.status, 422)
    XCTAssertTrue(wrongType.body.contains(#"["body","df","amount",1]"#), wrongType.body)
    let badTime = try write([(1, "1.0", "a", "yesterday")])
    XCTAssertEqual(badTime.status, 422)
    XCTAssertTrue(badTime.body.contains("event_timestamp"), badTime.body)
    XCTAssertEqual(try harness.post("/write-to-online-store", #"{"feature_view_name": "nope", "df": {}}"#).status, 404)
    XCTAssertEqual(values(try read([1]), column: 1).first is NSNull, true, "nothing was written")
  }

  func testCorruptStoredValuesAndTimestampsAreNullAndCountedNotACrash() throws {
    XCTAssertEqual(try write([(4, "1.0", "ok", "2026-11-30T10:00:00Z")]).status, 200)
    let key = FeastTestRepository.redisKey(card: 4)
    let amountField = withUnsafeBytes(of: MurmurHash3.x86_32("card_stats:amount").littleEndian) { Array($0) }
    harness.command([Array("HSET".utf8), key, amountField, [0x29, 0x01]])  // a truncated double
    harness.command([Array("HSET".utf8), key, Array("_ts:card_stats".utf8), [0x08, 0xff]])  // a truncated varint
    let reply = try read([4])
    XCTAssertEqual(reply.status, 200, reply.body)
    XCTAssertTrue(values(reply, column: 1).first is NSNull, reply.body)
    XCTAssertEqual(values(reply, column: 2).first as? String, "ok", "the other features of the row are served")
    func counter(_ line: String) throws -> Int {
      let metrics = try harness.get("/metrics").body
      let sample = metrics.split(separator: "\n").first { $0.hasPrefix(line + " ") }
      return sample.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
    }
    XCTAssertEqual(try counter("featureserver_feature_decode_errors_total"), 2, "the value and the timestamp")

    // A key of another Redis type is a bad row, not an outage.
    harness.command([Array("DEL".utf8), FeastTestRepository.redisKey(card: 5)])
    harness.command([Array("SET".utf8), FeastTestRepository.redisKey(card: 5), Array("a string".utf8)])
    let wrongType = try read([5])
    XCTAssertEqual(wrongType.status, 200, wrongType.body)
    XCTAssertTrue(values(wrongType, column: 1).first is NSNull)
    XCTAssertEqual(try counter(#"featureserver_stored_row_errors_total{feature_view="card_stats"}"#), 1)
    XCTAssertEqual(try counter(#"featureserver_feast_entity_rows_total{result="invalid"}"#), 1)
  }

  func testRedisDownIsAFast503WithRetryAfter() throws {
    harness.redis.kill(signal: SIGKILL)
    let started = Date()
    let reply = try read([12345])
    XCTAssertEqual(reply.status, 503, reply.body)
    XCTAssertEqual(reply.headers["retry-after"], "1")
    XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    XCTAssertEqual(try write([(1, "1.0", "a", "2026-11-30T10:00:00Z")]).status, 503)
  }

  func testFeastsErrorsKeepTheShapeTheSDKReRaises() throws {
    let unknownView = try read([1], features: #""nope:x""#)
    XCTAssertEqual(unknownView.status, 404)
    XCTAssertTrue(
      unknownView.body.hasPrefix(#""{\"module\": \"feast.errors\", \"class\": \"FeatureViewNotFoundException\""#),
      unknownView.body)
    let unknownFeature = try read([1], features: #""card_stats:nope""#)
    XCTAssertTrue(unknownFeature.body.contains("FeastObjectNotFoundException"), unknownFeature.body)
    let onDemand = try read([1], features: #""scores:risk""#)
    XCTAssertEqual(onDemand.status, 501, "an on-demand view with a Python transformation is not served")
    XCTAssertTrue(onDemand.body.contains("not served by featureserver"), onDemand.body)
    let service = try harness.post(
      "/get-online-features", #"{"feature_service": "svc", "entities": {"card": [1]}, "full_feature_names": true}"#)
    XCTAssertEqual(service.status, 200, service.body)
    XCTAssertEqual(
      (service.json["metadata"] as? [String: [String]])?["feature_names"], ["card_id", "card_stats__amount"])
    let badKey = try read([1], features: #""card_stats:amount""#)
    XCTAssertEqual(badKey.status, 200)
    let wrongKeyType = try harness.post(
      "/get-online-features", #"{"features": ["card_stats:amount"], "entities": {"card_id": ["seven"]}}"#)
    XCTAssertEqual(wrongKeyType.status, 422)
    XCTAssertTrue(wrongKeyType.body.contains(#"["body","entities","card_id",0]"#), wrongKeyType.body)
  }

  func testTheSameFeatureListIsNamedRightWhateverWasAskedBefore() throws {
    // The loop remembers each list's selection: the flag, the service and the list's own bytes
    // must each lead to their own answer, and a refused list must stay refused.
    func names(_ body: String) throws -> [String]? {
      let reply = try harness.post("/get-online-features", body)
      return (reply.json["metadata"] as? [String: [String]])?["feature_names"]
    }
    let list = #""features": ["card_stats:country", "card_stats:amount"]"#
    for _ in 0..<2 {
      XCTAssertEqual(try names(#"{\#(list), "entities": {"card_id": [1]}}"#), ["card_id", "country", "amount"])
      XCTAssertEqual(
        try names(#"{\#(list), "entities": {"card_id": [1]}, "full_feature_names": true}"#),
        ["card_id", "card_stats__country", "card_stats__amount"])
      XCTAssertEqual(
        try names(#"{\#(list), "feature_service": "svc", "entities": {"card_id": [1]}}"#), ["card_id", "amount"],
        "a service wins over a list, as in Feast")
      XCTAssertEqual(
        try harness.post(
          "/get-online-features",
          #"{"features": ["card_stats:country", "card_stats:country"], "entities": {"card_id": [1]}}"#
        ).status, 400)
    }
    // More distinct lists than the memo holds: each still answered for itself.
    for count in 1...3 {
      for offset in 0..<120 {
        let features = Array(repeating: #""card_stats:amount""#, count: 1) + Array(repeating: " ", count: offset)
        let body = #"{"features": [\#(features.joined())], "entities": {"card_id": [\#(count)]}}"#
        XCTAssertEqual(try names(body), ["card_id", "amount"], body)
      }
    }
  }

  func testEnforcedTTLAnswersNotFoundAndOutsideMaxAgeAsFeastsGoServerDoes() throws {
    harness.stop()
    harness = try FeatureServerHarness(
      threads: 1,
      feast: { port in
        var configuration = FeastConfiguration()
        configuration.enforceTTL = true
        return try FeastTestRepository.serving(redisPort: port, configuration: configuration)
      })
    let format = ISO8601DateFormatter()
    let hourAgo = format.string(from: Date().addingTimeInterval(-3_600))
    let twoDaysAgo = format.string(from: Date().addingTimeInterval(-2 * 86_400))  // the view's ttl is one day
    XCTAssertEqual(
      try write([(1, "1.5", "fresh", hourAgo), (2, "2.5", "old", twoDaysAgo), (4, "NaN", "no amount", hourAgo)]).status,
      200)
    let reply = try read([1, 2, 3, 4])
    let results = reply.json["results"] as? [[String: Any]]
    XCTAssertEqual(
      results?[1]["statuses"] as? [String], ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND", "NOT_FOUND"], reply.body)
    XCTAssertEqual(
      results?[2]["statuses"] as? [String], ["PRESENT", "OUTSIDE_MAX_AGE", "NOT_FOUND", "PRESENT"],
      "a null value is NOT_FOUND feature by feature")
    XCTAssertEqual(values(reply, column: 1).first as? Double, 1.5)
    XCTAssertEqual(values(reply, column: 1)[1] as? Double, 2.5, "an outdated value is still served, marked")
  }

  func testAChangedRegistryIsServedWithoutARestartAndRowsOfTheOldOneAreNotReused() throws {
    XCTAssertEqual(try write([(1, "10.5", "NZ", "2026-11-30T10:00:00Z")]).status, 200)
    XCTAssertEqual(values(try read([1]), column: 1).first as? Double, 10.5)
    XCTAssertEqual(try read([1]).headers["x-cache"], "HIT")
    XCTAssertEqual(try read([1], features: #""card_extra:score""#).status, 404)

    // `feast apply`: card_stats's fields in another order, a new view. The watcher sees the file
    // change and serves the new registry; the cached row (decoded with the old order) is not reused.
    let watcher = FeastRegistryWatcher(service: harness.service, loop: harness.group.loops[0], interval: 0.1)
    try FeastTestRepository.writeRegistry(FeastTestRepository.registry(applied: true), redisPort: harness.redis.port)
    let served = waitUntil(timeout: 10) { (try? self.read([1], features: #""card_extra:score""#).status) == 200 }
    XCTAssertNotNil(served, "the changed registry was not served")
    let after = try read([1])
    XCTAssertEqual(after.headers["x-cache"], "MISS")
    XCTAssertEqual(values(after, column: 1).first as? Double, 10.5)
    XCTAssertEqual(values(after, column: 2).first as? String, "NZ")
    XCTAssertTrue(
      try harness.get("/metrics").body.contains(#"featureserver_feast_registry_reloads_total{result="served"} 1"#))

    // A registry that cannot be read is refused; the one served stays.
    try Data("not a registry".utf8).write(
      to: URL(fileURLWithPath: harness.service.feast!.repository.registryPath), options: .atomic)
    let refused = waitUntil(timeout: 10) {
      (try? self.harness.get("/metrics").body)?.contains(
        #"featureserver_feast_registry_reloads_total{result="refused"} 1"#)
        == true
    }
    XCTAssertNotNil(refused, "the broken registry was not looked at")
    XCTAssertEqual(try read([1], features: #""card_extra:score""#).status, 200)
    XCTAssertFalse(watcher.reload(), "read on demand, it is refused again")
  }

  func testTooManyRowsOrFeaturesAreRefusedBeforeAnythingIsRead() throws {
    let rows = (0...1_000).map(String.init).joined(separator: ",")
    let tooMany = try harness.post(
      "/get-online-features", #"{"features": ["card_stats:amount"], "entities": {"card_id": [\#(rows)]}}"#)
    XCTAssertEqual(tooMany.status, 413, tooMany.body)
    let features = Array(repeating: #""card_stats:amount""#, count: 1_001).joined(separator: ",")
    XCTAssertEqual(try read([1], features: features).status, 413)
    XCTAssertEqual(try read(Array(0..<1_000)).status, 200, "1 000 rows of one view are within every limit")
  }

  func testRowsTimesViewsAreBoundedSoOneRequestCannotAskForMillionsOfReads() throws {
    harness.stop()
    harness = try FeatureServerHarness(
      threads: 1,
      feast: { port in
        var configuration = FeastConfiguration()
        configuration.maxRowReads = 10
        return try FeastTestRepository.serving(redisPort: port, configuration: configuration)
      })
    XCTAssertEqual(try read(Array(0..<10)).status, 200)
    let tooMany = try read(Array(0..<11))
    XCTAssertEqual(tooMany.status, 413)
    XCTAssertTrue(tooMany.body.contains("--feast-max-row-reads"), tooMany.body)
  }

  func testEveryPrefixOfARequestBodyIsRefusedCleanly() throws {
    let body = #"{"features": ["card_stats:amount"], "entities": {"card_id": [1, "2"]}, "full_feature_names": false}"#
    let bytes = Array(body.utf8)
    for length in 0..<bytes.count {
      let prefix = String(decoding: bytes[..<length], as: UTF8.self)
      let reply = try harness.post("/get-online-features", prefix)
      XCTAssertEqual(reply.status, 422, "\(length): \(prefix) -> \(reply.body)")
    }
    XCTAssertEqual(try harness.post("/get-online-features", body).status, 200)
  }
}

/// A Feast repository written by hand: one entity `card` (INT64 `card_id`), the feature view
/// `card_stats` (amount DOUBLE, country STRING, counts INT64_LIST) fed by the push source
/// `card_push`, the service `svc` (card_stats[amount]) and an on-demand view `scores` with a
/// Python transformation (listed, not served).
enum FeastTestRepository {
  static func serving(redisPort: Int, configuration: FeastConfiguration = FeastConfiguration()) throws -> FeastServing {
    let directory = try writeRepository(connectionString: "127.0.0.1:\(redisPort)", name: "\(redisPort)")
    let repository = try FeastRepository.load(directory: directory.path, environment: [:])
    return FeastServing(repository: repository, configuration: configuration)
  }

  /// Writes the repository (feature_store.yaml and the registry) to a fresh directory named by
  /// `name`, for the Redis (or, with `redisType: redis_cluster`, the cluster) at `connectionString`.
  static func writeRepository(connectionString: String, redisType: String = "redis", name: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("feast-routes-\(getpid())-\(name)")
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
    try """
    project: fraud
    registry: data/registry.db
    provider: local
    online_store:
      type: redis
      redis_type: \(redisType)
      connection_string: "\(connectionString)"
    entity_key_serialization_version: 3
    """.write(to: directory.appendingPathComponent("feature_store.yaml"), atomically: true, encoding: .utf8)
    try Data(registry().serializedBytes() as [UInt8]).write(
      to: directory.appendingPathComponent("data/registry.db"), options: .atomic)
    return directory
  }

  /// Replaces the registry file, as `feast apply` does.
  static func writeRegistry(_ registry: Feast_Core_Registry, redisPort: Int) throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "feast-routes-\(getpid())-\(redisPort)/data/registry.db")
    try Data(registry.serializedBytes() as [UInt8]).write(to: path, options: .atomic)
  }

  static func redisKey(card: Int64) -> [UInt8] {
    var key: [UInt8] = [1, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0] + Array("card_id".utf8) + [4, 0, 0, 0, 8, 0, 0, 0]
    withUnsafeBytes(of: card.littleEndian) { key.append(contentsOf: $0) }
    return key + Array("fraud".utf8)
  }

  private static func feature(_ name: String, _ type: Feast_Types_ValueType.Enum) -> Feast_Core_FeatureSpecV2 {
    var spec = Feast_Core_FeatureSpecV2()
    spec.name = name
    spec.valueType = type
    return spec
  }

  /// `applied`: as after a second `feast apply` that put `card_stats`'s features in another order
  /// and added the view `card_extra` (score DOUBLE).
  static func registry(applied: Bool = false) -> Feast_Core_Registry {
    var registry = Feast_Core_Registry()
    var card = Feast_Core_Entity()
    card.spec.name = "card"
    card.spec.joinKey = "card_id"
    card.spec.project = "fraud"
    card.spec.valueType = .int64
    registry.entities.append(card)

    var view = Feast_Core_FeatureView()
    view.spec.name = "card_stats"
    view.spec.project = "fraud"
    view.spec.entities = ["card"]
    view.spec.entityColumns = [feature("card_id", .int64)]
    view.spec.features =
      applied
      ? [feature("country", .string), feature("counts", .int64List), feature("amount", .double)]
      : [feature("amount", .double), feature("country", .string), feature("counts", .int64List)]
    view.spec.ttl.seconds = 86_400
    view.spec.online = true
    view.spec.batchSource.type = .batchFile
    view.spec.batchSource.timestampField = "event_timestamp"
    view.spec.streamSource.type = .pushSource
    view.spec.streamSource.name = "card_push"
    view.spec.streamSource.batchSource = view.spec.batchSource
    registry.featureViews.append(view)
    if applied {
      var extra = view
      extra.spec.name = "card_extra"
      extra.spec.features = [feature("score", .double)]
      extra.spec.clearStreamSource()
      registry.featureViews.append(extra)
    }

    var onDemand = Feast_Core_OnDemandFeatureView()
    onDemand.spec.name = "scores"
    onDemand.spec.project = "fraud"
    onDemand.spec.features = [feature("risk", .double)]
    registry.onDemandFeatureViews.append(onDemand)

    var service = Feast_Core_FeatureService()
    service.spec.name = "svc"
    service.spec.project = "fraud"
    var projection = Feast_Core_FeatureViewProjection()
    projection.featureViewName = "card_stats"
    projection.featureColumns = [feature("amount", .double)]
    service.spec.features = [projection]
    registry.featureServices.append(service)
    return registry
  }
}
