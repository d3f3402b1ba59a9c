import Foundation
import RedisPool
import TestSupport
import XCTest

@testable import FeatureServer

/// Whatever a careless or hostile writer puts in Redis, and whatever a client sends, the server
/// answers (with the row, a typed null or a clear status), counts it, and keeps serving everyone.
final class StoredDataHardeningTests: XCTestCase {
  static let predictBody = #"{"transaction_id":"t","customer_id":%@,"account_id":7,"merchant_id":3,"amount":25}"#

  func metric(_ harness: FeatureServerHarness, _ line: String) throws -> Int? {
    let text = try harness.get("/metrics").body
    guard let found = text.split(separator: "\n").first(where: { $0.hasPrefix(line + " ") }) else { return nil }
    return Int(found.split(separator: " ").last ?? "")
  }

  func testATimestampBeyondInt64IsServedAsNullNotACrash() throws {
    let harness = try FeatureServerHarness(modelPath: LoadedModel.bundledPath) { $0.cache.ttl = 0 }
    defer { harness.stop() }
    try harness.writeCustomer(7)
    for (id, stamp) in [(900_011, "1e19"), (900_012, "-9223372036854775808"), (900_013, "9.3e18"), (900_014, "nan")] {
      try harness.redis.cli(["HSET", "fs:customer:\(id)", "age", "40", "_ts", stamp])
      let reply = try harness.get("/features/customer/\(id)")
      XCTAssertEqual(reply.status, 200, "\(stamp): \(reply.body)")
      XCTAssertTrue(reply.body.contains(#""event_timestamp":null"#), reply.body)
      XCTAssertEqual(reply.json["features"].flatMap { ($0 as? [String: Any])?["age"] as? Int }, 40)
      let predicted = try harness.post("/predict", String(format: Self.predictBody, "\(id)"))
      XCTAssertEqual(predicted.status, 200, "\(stamp): \(predicted.body)")
    }
    XCTAssertEqual(try metric(harness, "featureserver_feature_decode_errors_total"), 8)
    XCTAssertEqual(try harness.get("/features/customer/7").status, 200, "the server still serves others")
  }

  func testABadTimestampInTheBackgroundRefreshDoesNotCrash() throws {
    let harness = try FeatureServerHarness {
      $0.cache.ttl = 0.3
      $0.cache.refreshAhead = 0.9
    }
    defer { harness.stop() }
    try harness.writeCustomer(5)
    XCTAssertEqual(try harness.get("/features/customer/5").status, 200)
    try harness.redis.cli(["HSET", "fs:customer:5", "_ts", "1e19"])
    // Hits near expiry re-read the row in the background, now with the bad time.
    for _ in 0..<10 {
      XCTAssertEqual(try harness.get("/features/customer/5").status, 200)
      usleep(50_000)
    }
    XCTAssertNotNil(
      waitUntil(timeout: 3) {
        (try? harness.get("/features/customer/5").body.contains(#""event_timestamp":null"#)) ?? false
      })
  }

  func testAKeyOfAnotherTypeIsABadRowNotARedisOutage() throws {
    let harness = try FeatureServerHarness(modelPath: LoadedModel.bundledPath)
    defer { harness.stop() }
    try harness.writeCustomer(8)
    try harness.redis.cli(["SET", "fs:customer:77", "not a hash"])
    let reply = try harness.get("/features/customer/77")
    XCTAssertEqual(reply.status, 500, reply.body)
    XCTAssertEqual(reply.json["error"] as? String, "invalid_stored_row")
    XCTAssertNil(reply.headers["retry-after"], "not an outage: no Retry-After")
    XCTAssertFalse(reply.body.contains("fs:customer"), "the key must not leak: \(reply.body)")
    XCTAssertFalse(reply.body.uppercased().contains("WRONGTYPE"), "Redis's text must not leak: \(reply.body)")
    let batch = try harness.post(
      "/features", #"{"items":[{"entity":"customer","id":77},{"entity":"customer","id":8}]}"#)
    XCTAssertEqual(batch.status, 200)
    let results = batch.json["results"] as? [[String: Any]] ?? []
    XCTAssertEqual(results.map { $0["status"] as? String }, ["INVALID", "PRESENT"])
    let predicted = try harness.post("/predict", String(format: Self.predictBody, "77"))
    XCTAssertEqual(predicted.status, 200, predicted.body)
    XCTAssertEqual(predicted.json["degraded"] as? Bool, true)
    XCTAssertGreaterThanOrEqual(
      try metric(harness, #"featureserver_stored_row_errors_total{entity="customer"}"#) ?? 0, 1)
    let snapshot = harness.pool.statisticsSnapshot()
    XCTAssertEqual(snapshot.reconnects, 0, "a data error must not reset a connection")
    XCTAssertEqual(snapshot.connectionsUp, 8)
    XCTAssertEqual(try metric(harness, #"featureserver_cache_requests_total{result="stale"}"#), 0)
  }

  func testIntegerIdsHaveOneCanonicalSpellingEverywhere() throws {
    let harness = try FeatureServerHarness(threads: 1, modelPath: LoadedModel.bundledPath)
    defer { harness.stop() }
    try harness.writeCustomer(1)
    let plain = try harness.get("/features/customer/1")
    let padded = try harness.get("/features/customer/0001")
    XCTAssertEqual(plain.status, 200)
    XCTAssertEqual(padded.status, 200, padded.body)
    XCTAssertEqual(padded.json["id"] as? String, "1")
    XCTAssertEqual(padded.headers["x-cache"], "HIT", "0001 and 1 share one cache entry")
    let batch = try harness.post("/features", #"{"items":[{"entity":"customer","id":"001"}]}"#)
    XCTAssertEqual((batch.json["results"] as? [[String: Any]])?.first?["status"] as? String, "PRESENT")
    XCTAssertEqual(try harness.post("/predict", String(format: Self.predictBody, #""0001""#)).status, 200)
    // One read of customer 1 in all (plus /predict's account and merchant).
    XCTAssertEqual(try harness.hgetallCalls(), 3)
    XCTAssertEqual(try harness.get("/features/customer/-1").status, 400)
    XCTAssertEqual(try harness.get("/features/customer/1e3").status, 400)
  }

  func testTheLoaderReportsOutOfRangeTimestampsAndNonCanonicalIds() throws {
    let harness = try FeatureServerHarness()
    defer { harness.stop() }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-times-\(getpid()).csv")
    try """
    customer_id,age,event_timestamp
    1,30,1795000000
    2,31,1e30
    3,32,9.3e18
    4,33,-9223372036854775808
    0005,34,1795000000.75
    6,35,not-a-time
    """.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let loader = Loader(registry: harness.service.registry, pool: harness.pool)
    for shift in [false, true] {
      var options = Loader.Options()
      options.shiftTimestampsToNow = shift
      let report = try loader.load(entity: "customer", path: file.path, options: options)
      XCTAssertEqual(report.loaded, 2, "shift \(shift)")
      XCTAssertEqual(report.badRows.map(\.line), [3, 4, 5, 7], "shift \(shift): \(report.badRows)")
      XCTAssertTrue(report.badRows.allSatisfy { $0.reason.contains("event_timestamp") })
    }
    XCTAssertEqual(try harness.redis.cli(["HGET", "fs:customer:5", "age"]), "34\n", "0005 is stored as 5")
    XCTAssertEqual(try harness.redis.cli(["EXISTS", "fs:customer:0005"]), "0\n")
  }

  func testTheCacheIsBoundedByBytesAndMissingIdsCannotEvictRows() throws {
    let harness = try FeatureServerHarness(threads: 1) {
      $0.cache.maxEntries = 200
      $0.cache.maxBytes = 256 * 1024
      $0.cache.negativeShare = 0.1
    }
    defer { harness.stop() }
    // A row larger than its share of the cache is served, but never cached.
    try harness.redis.cli(["HSET", "fs:customer:9", "home_country", String(repeating: "X", count: 100_000)])
    for _ in 0..<2 {
      let reply = try harness.get("/features/customer/9")
      XCTAssertEqual(reply.status, 200)
      XCTAssertEqual(reply.headers["x-cache"], "MISS")
    }
    XCTAssertLessThanOrEqual(try metric(harness, "featureserver_cache_bytes") ?? .max, 256 * 1024)
    for id in 1...50 { try harness.writeCustomer(id) }
    for id in 1...50 { XCTAssertEqual(try harness.get("/features/customer/\(id)").status, 200) }
    // A flood of ids that do not exist.
    for id in 500_000..<501_000 { XCTAssertEqual(try harness.get("/features/customer/\(id)").status, 404) }
    for id in 1...50 {
      XCTAssertEqual(try harness.get("/features/customer/\(id)").headers["x-cache"], "HIT", "customer \(id)")
    }
  }

  func testRedisCommandsBeyondTheInFlightBoundGetAFast503() throws {
    let harness = try FeatureServerHarness(threads: 1, poolSize: 4, configureRedis: { $0.maxInFlight = 2 }) {
      $0.cache.ttl = 0
    }
    defer { harness.stop() }
    let sleeper = Thread { _ = try? harness.redis.cli(["DEBUG", "SLEEP", "0.5"]) }
    sleeper.start()
    usleep(100_000)
    var connections: [RawConnection] = []
    for id in 1...6 {  // merchants: one command each (a customer's read also takes its window events)
      let connection = try RawConnection(port: harness.port)
      connection.send("GET /features/merchant/\(id) HTTP/1.1\r\nHost: t\r\n\r\n")
      connections.append(connection)
    }
    let start = Date()
    let replies = Collected<(FeatureServerHarness.Reply, Double)>()
    let readers = DispatchGroup()
    for connection in connections {  // one thread each: the slow ones must not hold the others
      readers.enter()
      Thread {
        let reply = FeatureServerHarness.parse(connection.readResponses(1).first ?? "")
        replies.append((reply, Date().timeIntervalSince(start)))
        readers.leave()
      }.start()
    }
    readers.wait()
    var overloaded = 0
    for (reply, elapsed) in replies.values where reply.status == 503 && reply.json["error"] as? String == "overloaded" {
      overloaded += 1
      XCTAssertEqual(reply.headers["retry-after"], "1")
      XCTAssertLessThan(elapsed, 0.3, "a refusal must not wait for Redis")
    }
    XCTAssertEqual(overloaded, 4, "2 in flight, 4 refused")
    XCTAssertGreaterThanOrEqual(try metric(harness, #"featureserver_redis_commands_total{outcome="rejected"}"#) ?? 0, 4)
  }

  func testRequestBodiesWithManyOrRepeatedMembersAreRefusedFast() throws {
    let harness = try FeatureServerHarness(modelPath: LoadedModel.bundledPath)
    defer { harness.stop() }
    // 16 000 distinct members: once 1.2 s of quadratic checking; now refused at the cap.
    let members = (0..<16_000).map { "\"m\($0)\":1" }.joined(separator: ",")
    var start = Date()
    let many = try harness.post("/predict", "{\(members)}")
    XCTAssertEqual(many.status, 400)
    XCTAssertTrue(many.body.contains("more than 256 members"), many.body)
    XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
    for (path, body) in [
      (
        "/predict",
        #"{"transaction_id":"a","transaction_id":"b","customer_id":1,"account_id":1,"merchant_id":1,"amount":1}"#
      ),
      ("/features", #"{"items":[],"items":[]}"#),
      ("/features", #"{"items":[{"entity":"customer","id":1,"id":2}]}"#),
    ] {
      let reply = try harness.post(path, body)
      XCTAssertEqual(reply.status, 400, body)
      XCTAssertTrue((reply.json["message"] as? String ?? "").contains("appears twice"), "\(path): \(reply.body)")
    }
    // A batch far over the item limit is refused as soon as the limit is passed.
    let items = (0..<40_000).map { _ in #"{"entity":"customer","id":1}"# }.joined(separator: ",")
    start = Date()
    let big = try harness.post("/features", #"{"items":[\#(items)]}"#)
    XCTAssertEqual(big.status, 413, big.body)
    XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
  }

  func testTheBearerSchemeIsCaseInsensitive() throws {
    let token = "0123456789abcdef-admin"
    let harness = try FeatureServerHarness(modelPath: LoadedModel.bundledPath) { $0.adminToken = token }
    defer { harness.stop() }
    for scheme in ["Bearer", "bearer", "BEARER"] {
      let reply = try harness.post("/admin/reload-model", "", headers: "Authorization: \(scheme) \(token)\r\n")
      XCTAssertEqual(reply.status, 200, "\(scheme): \(reply.body)")
    }
    for header in ["Bearer wrong", "Basic \(token)", "Bearer", "Bearer\(token)"] {
      let reply = try harness.post("/admin/reload-model", "", headers: "Authorization: \(header)\r\n")
      XCTAssertEqual(reply.status, 401, header)
    }
  }

  func testTimesBefore1970AreRefusedAndHoursAreNeverNegative() throws {
    let harness = try FeatureServerHarness(modelPath: LoadedModel.bundledPath)
    defer { harness.stop() }
    let body =
      #"{"transaction_id":"t","customer_id":1,"account_id":7,"merchant_id":3,"amount":25,"timestamp":"1969-12-31T23:00:00Z"}"#
    let reply = try harness.post("/predict", body)
    XCTAssertEqual(reply.status, 400)
    XCTAssertTrue(reply.body.contains("between 1970 and 9999"), reply.body)
    var values: [Double] = []
    // 1969-12-31T23:00Z, 23:59:59Z and 1969-01-01T02:00Z: hours 23, 23 and 2 (not -1, -0, -22).
    for (stamp, odd) in [(Int64(-3600), 0.0), (-1, 0.0), (-86_400 * 365 + 7200, 1.0)] {
      var request = try PredictRequest(
        body: Array(#"{"transaction_id":"t","customer_id":1,"account_id":1,"merchant_id":1,"amount":1}"#.utf8), now: 0)
      request.timestamp = stamp
      OnDemandFeature.compute(request, customerMean: .nan, customerStd: .nan, storedCategory: nil, into: &values)
      XCTAssertEqual(values[OnDemandFeature.positions[.isOddHour]!], odd, "at \(stamp)")
    }
  }

  /// Property: whatever bytes a writer puts in any field (names, values, `_ts`) of one hash, a
  /// read of it answers 200 or 500 with a JSON body, and a read of another row answers exactly as
  /// before. Seeded, so a failure is reproducible.
  func testAnyBytesInAStoredHashNeverCrashAReadOrChangeAnotherRow() throws {
    let harness = try FeatureServerHarness(threads: 1) { $0.cache.ttl = 0 }
    defer { harness.stop() }
    try harness.writeCustomer(1, timestamp: 1_795_000_000)
    let reference = try harness.get("/features/customer/1").body
    var random = SystemRandomNumberGenerator()
    var seed = UInt64.random(in: 1...UInt64.max, using: &random)
    let initialSeed = seed
    func next() -> UInt64 {
      seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return seed >> 16
    }
    let names = ["age", "tenure_days", "avg_txn_amount_30d", "home_country", "is_premium", "_ts", "x", ""]
    let values: [[UInt8]] = [
      Array("1e19".utf8), Array("-9223372036854775808".utf8), Array("9223372036854775808".utf8), Array("nan".utf8),
      Array("1e400".utf8), Array("-0".utf8), Array("0x10".utf8), Array(" 42".utf8), [0, 0, 0], [0xFF, 0xFE],
      Array(String(repeating: "9", count: 5000).utf8), Array("true".utf8), Array("".utf8),
    ]
    for iteration in 0..<150 {
      let key = Array("fs:customer:\(2 + iteration % 5)".utf8)
      var arguments: [[UInt8]] = [Array("HSET".utf8), key]
      for _ in 0..<(1 + Int(next() % 6)) {
        let name: [UInt8] =
          next() % 4 == 0
          ? (0..<Int(next() % 12)).map { _ in UInt8(truncatingIfNeeded: next()) } : Array(names[Int(next() % 8)].utf8)
        let value: [UInt8] =
          next() % 3 == 0
          ? (0..<Int(next() % 40)).map { _ in UInt8(truncatingIfNeeded: next()) } : values[Int(next() % 13)]
        arguments += [name, value]
      }
      harness.command([Array("DEL".utf8), key])
      harness.command(arguments)
      let reply = try harness.get("/features/customer/\(2 + iteration % 5)")
      XCTAssertTrue(
        [200, 404, 500].contains(reply.status), "seed \(initialSeed) iteration \(iteration): \(reply.status)")
      XCTAssertNotNil(
        try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)),
        "seed \(initialSeed) iteration \(iteration): not JSON: \(reply.body.prefix(200))")
      XCTAssertEqual(try harness.get("/features/customer/1").body, reference, "seed \(initialSeed)")
    }
  }
}
