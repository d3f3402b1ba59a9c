import Foundation
import HTTPCore
import TestSupport
import XCTest

@testable import FeatureServer

final class FeatureServiceTests: XCTestCase {
  func testTypedValuesDefaultsAndEveryStatusCode() throws {
    let harness = try FeatureServerHarness()
    defer { harness.stop() }
    try harness.writeCustomer(42)
    try harness.redis.cli(["HSET", "fs:customer:43", "age", "not-a-number", "_ts", "1"])

    let found = try harness.get("/features/customer/42")
    XCTAssertEqual(found.status, 200)
    XCTAssertEqual(found.headers["content-type"], "application/json")
    let features = try XCTUnwrap(found.json["features"] as? [String: Any])
    XCTAssertEqual(features["age"] as? Int, 41)
    XCTAssertEqual(features["avg_txn_amount_30d"] as? Double, 57.25)
    XCTAssertEqual(features["home_country"] as? String, "US")
    XCTAssertEqual(features["is_premium"] as? Bool, true)
    XCTAssertEqual(features["txn_count_30d"] as? Int, 0, "absent field takes the registry default")
    XCTAssertEqual(features["chargebacks_90d"] as? Int, 0)
    // The 8 stored features, then the bundled registry's 20 window features (no events: 0 or null).
    XCTAssertEqual(features.count, 28)
    XCTAssertEqual(features["txn_count_5m"] as? Int, 0)
    XCTAssertTrue(features["amount_mean_1h"] is NSNull)
    XCTAssertEqual(features["amount_std_60s"] as? Double, 0)
    XCTAssertEqual(found.json["status"] as? String, "PRESENT")
    XCTAssertEqual(found.json["entity"] as? String, "customer")
    XCTAssertEqual(found.json["id"] as? String, "42")
    XCTAssertNotNil(found.json["event_timestamp"] as? Int)

    let selected = try harness.get("/features/customer/42?features=age,home_country")
    XCTAssertEqual((selected.json["features"] as? [String: Any])?.keys.sorted(), ["age", "home_country"])

    let wrongType = try harness.get("/features/customer/43")
    XCTAssertEqual(wrongType.status, 200)
    XCTAssertTrue((wrongType.json["features"] as? [String: Any])?["age"] is NSNull, wrongType.body)
    XCTAssertEqual(wrongType.json["status"] as? String, "OUTSIDE_MAX_AGE")

    let cases: [(String, Int, String)] = [
      ("/features/planet/1", 404, "unknown_entity"),
      ("/features/customer/777", 404, "not_found"),
      ("/features/customer/abc", 400, "invalid_id"),
      ("/features/customer/0", 400, "invalid_id"),
      ("/features/customer/42?features=age,shoe_size", 400, "unknown_feature"),
    ]
    for (path, status, code) in cases {
      let reply = try harness.get(path)
      XCTAssertEqual(reply.status, status, path)
      XCTAssertEqual(reply.json["error"] as? String, code, path)
      XCTAssertNotNil(reply.json["message"] as? String, path)
    }
    let metrics = try harness.get("/metrics").body
    XCTAssertTrue(metrics.contains("featureserver_feature_decode_errors_total 1"), metrics)
  }

  func testCacheHitAfterMissThenExpiry() throws {
    let harness = try FeatureServerHarness(threads: 1) { $0.cache.ttl = 0.3 }
    defer { harness.stop() }
    try harness.writeCustomer(1, age: "30")
    XCTAssertEqual(try harness.get("/features/customer/1").headers["x-cache"], "MISS")
    try harness.writeCustomer(1, age: "31")
    let hit = try harness.get("/features/customer/1")
    XCTAssertEqual(hit.headers["x-cache"], "HIT")
    XCTAssertEqual((hit.json["features"] as? [String: Any])?["age"] as? Int, 30, "a hit serves the cached row")
    usleep(400_000)
    let refreshed = try harness.get("/features/customer/1")
    XCTAssertEqual(refreshed.headers["x-cache"], "MISS")
    XCTAssertEqual((refreshed.json["features"] as? [String: Any])?["age"] as? Int, 31)
  }

  /// A hit in the last part of an entry's TTL answers from the cache and re-reads the row in
  /// the background, so a key read steadily never expires on the request path.
  func testHitsNearExpiryRefreshInTheBackground() throws {
    let harness = try FeatureServerHarness(threads: 1) {
      $0.cache.ttl = 1
      $0.cache.refreshAhead = 0.5
    }
    defer { harness.stop() }
    try harness.writeCustomer(1, age: "30")
    XCTAssertEqual(try harness.get("/features/customer/1").headers["x-cache"], "MISS")
    let reads = try harness.hgetallCalls()
    try harness.writeCustomer(1, age: "31")
    usleep(600_000)  // inside the last half of the TTL
    let early = try harness.get("/features/customer/1")
    XCTAssertEqual(early.headers["x-cache"], "HIT")
    XCTAssertEqual((early.json["features"] as? [String: Any])?["age"] as? Int, 30, "answered from the cache")
    XCTAssertNotNil(waitUntil(timeout: 2) { (try? harness.hgetallCalls()) == reads + 1 }, "one background read")
    XCTAssertEqual(try harness.get("/features/customer/1").headers["x-cache"], "HIT", "one refresh per entry")
    usleep(600_000)  // past the first entry's expiry: the refreshed one serves
    let later = try harness.get("/features/customer/1")
    XCTAssertEqual(later.headers["x-cache"], "HIT")
    XCTAssertEqual((later.json["features"] as? [String: Any])?["age"] as? Int, 31)
    // The later hit is itself inside the refreshed entry's window, so it may have started a second one.
    let metrics = try harness.get("/metrics").body
    let refreshes = metrics.split(separator: "\n").first { $0.hasPrefix("featureserver_cache_refreshes_total ") }
    XCTAssertGreaterThanOrEqual(refreshes.flatMap { Int($0.split(separator: " ")[1]) } ?? 0, 1, metrics)
  }

  func testMissingInstancesAreCachedNegatively() throws {
    let harness = try FeatureServerHarness(threads: 1) { $0.cache.negativeTTL = 0.3 }
    defer { harness.stop() }
    let first = try harness.get("/features/customer/5")
    XCTAssertEqual(first.status, 404)
    XCTAssertEqual(first.headers["x-cache"], "MISS")
    try harness.writeCustomer(5)
    let second = try harness.get("/features/customer/5")
    XCTAssertEqual(second.status, 404, "still remembered as missing")
    XCTAssertEqual(second.headers["x-cache"], "HIT")
    usleep(400_000)
    XCTAssertEqual(try harness.get("/features/customer/5").status, 200)
  }

  func testConcurrentMissesForOneKeyMakeOneRedisCall() throws {
    let harness = try FeatureServerHarness(threads: 1)
    defer { harness.stop() }
    try harness.writeCustomer(9)
    let before = try harness.hgetallCalls()
    let connections = try (0..<40).map { _ in try RawConnection(port: harness.port) }
    for connection in connections { connection.send("GET /features/customer/9 HTTP/1.1\r\nHost: t\r\n\r\n") }
    var statuses: [Int] = []
    var caches: [String] = []
    for connection in connections {
      let reply = FeatureServerHarness.parse(connection.readResponses(1).first ?? "")
      statuses.append(reply.status)
      caches.append(reply.headers["x-cache"] ?? "")
    }
    XCTAssertEqual(Set(statuses), [200])
    XCTAssertEqual(try harness.hgetallCalls() - before, 1, "single-flight: 40 concurrent misses, one HGETALL")
    XCTAssertGreaterThanOrEqual(caches.filter { $0 == "MISS" }.count, 1)
  }

  func testStaleIfErrorWhileRedisIsDownAnd503WithoutAnEntry() throws {
    let harness = try FeatureServerHarness(threads: 1) {
      $0.cache.ttl = 0.2
      $0.cache.staleIfError = 60
    }
    defer { harness.stop() }
    try harness.writeCustomer(7)
    XCTAssertEqual(try harness.get("/features/customer/7").status, 200)
    harness.redis.kill(signal: SIGKILL)
    usleep(300_000)
    let stale = try harness.get("/features/customer/7")
    XCTAssertEqual(stale.status, 200)
    XCTAssertEqual(stale.headers["x-cache"], "STALE")
    XCTAssertEqual(stale.json["stale"] as? Bool, true)
    XCTAssertEqual((stale.json["features"] as? [String: Any])?["age"] as? Int, 41)
    let unknown = try harness.get("/features/customer/8")
    XCTAssertEqual(unknown.status, 503)
    XCTAssertEqual(unknown.headers["retry-after"], "1")
    XCTAssertEqual(unknown.json["error"] as? String, "redis_unavailable")
    XCTAssertTrue(try harness.get("/metrics").body.contains(#"featureserver_cache_requests_total{result="stale"} 1"#))
  }

  func testReadinessFollowsRedis() throws {
    let harness = try FeatureServerHarness()
    defer { harness.stop() }
    XCTAssertEqual(try harness.get("/ready").status, 200)
    XCTAssertEqual(try harness.get("/health").status, 200)
    harness.redis.kill(signal: SIGKILL)
    XCTAssertNotNil(waitUntil(timeout: 2) { (try? harness.get("/ready").status) == 503 })
    let down = try harness.get("/ready")
    XCTAssertEqual(down.json["status"] as? String, "not_ready")
    XCTAssertEqual((down.json["reasons"] as? [String])?.count, 2, down.body)
    XCTAssertEqual(try harness.get("/health").status, 200, "liveness does not depend on Redis")
    try harness.redis.start()
    XCTAssertNotNil(waitUntil(timeout: 3) { (try? harness.get("/ready").status) == 200 })
  }

  func testBatchReadsMixOfFoundMissingAndSelections() throws {
    let harness = try FeatureServerHarness { $0.maxBatchItems = 3 }
    defer { harness.stop() }
    try harness.writeCustomer(1)
    try harness.redis.cli([
      "HSET", "fs:merchant:2", "merchant_category", "crypto", "risk_level", "5", "_ts",
      "\(Int(Date().timeIntervalSince1970))",
    ])
    let before = try harness.hgetallCalls()
    let reply = try harness.post(
      "/features",
      #"{"items":[{"entity":"customer","id":1},{"entity":"merchant","id":"2","features":["risk_level"]},{"entity":"account","id":"3"}]}"#
    )
    XCTAssertEqual(reply.status, 200, reply.body)
    let results = try XCTUnwrap(reply.json["results"] as? [[String: Any]])
    XCTAssertEqual(results.count, 3)
    XCTAssertEqual(results[0]["status"] as? String, "PRESENT")
    XCTAssertEqual((results[1]["features"] as? [String: Any])?.keys.sorted(), ["risk_level"])
    XCTAssertEqual((results[1]["features"] as? [String: Any])?["risk_level"] as? Int, 5)
    XCTAssertEqual(results[2]["status"] as? String, "NOT_FOUND")
    XCTAssertEqual(try harness.hgetallCalls() - before, 3)

    let errors: [(String, Int, String)] = [
      (#"{"items":[{"entity":"customer"}]}"#, 400, "missing field 'items[0].id'"),
      (#"{"items":[{"entity":7,"id":"1"}]}"#, 400, "items[0].entity"),
      (#"{"itemz":[]}"#, 400, "missing field 'items'"),
      ("not json", 400, "not valid JSON"),
      (#"{"items":[{"entity":"customer","id":"x"}]}"#, 400, "items[0].id"),
      (#"{"items":[{"entity":"customer","id":"1","features":["nope"]}]}"#, 400, "no feature 'nope'"),
      (
        #"{"items":[{"entity":"a","id":"1"},{"entity":"a","id":"1"},{"entity":"a","id":"1"},{"entity":"a","id":"1"}]}"#,
        413, "at most 3"
      ),
    ]
    for (body, status, message) in errors {
      let reply = try harness.post("/features", body)
      XCTAssertEqual(reply.status, status, body)
      XCTAssertTrue((reply.json["message"] as? String)?.contains(message) ?? false, "\(body): \(reply.body)")
    }
  }

  func testOutsideMaxAge() throws {
    let harness = try FeatureServerHarness()
    defer { harness.stop() }
    try harness.writeCustomer(3, timestamp: Int(Date().timeIntervalSince1970) - 8 * 86400)
    XCTAssertEqual(try harness.get("/features/customer/3").json["status"] as? String, "OUTSIDE_MAX_AGE")
    try harness.writeCustomer(4, timestamp: Int(Date().timeIntervalSince1970) - 6 * 86400)
    XCTAssertEqual(try harness.get("/features/customer/4").json["status"] as? String, "PRESENT")
  }

  func testMetricsPassPromtool() throws {
    // One loop, so the second read is a hit.
    let harness = try FeatureServerHarness(
      threads: 1, modelPath: packageRoot.appendingPathComponent("models/fraud_xgb.json").path)
    defer { harness.stop() }
    try harness.writeCustomer(1)
    _ = try harness.get("/features/customer/1")
    _ = try harness.get("/features/customer/1")
    _ = try harness.get("/features/customer/2")
    let prediction = try harness.post(
      "/predict", #"{"transaction_id":"m","customer_id":1,"account_id":1,"merchant_id":1,"amount":5}"#)
    XCTAssertEqual(prediction.status, 200, prediction.body)
    let metrics = try harness.get("/metrics")
    XCTAssertEqual(metrics.status, 200)
    XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") ?? false)
    for name in [
      "featureserver_http_requests_total", "featureserver_http_request_duration_seconds_bucket",
      "featureserver_cache_requests_total", "featureserver_cache_entries", "featureserver_cache_evictions_total",
      "featureserver_redis_connections_up", "featureserver_redis_commands_in_flight",
      "featureserver_redis_commands_total",
      "featureserver_redis_reconnects_total", "featureserver_redis_command_duration_seconds_bucket",
      "featureserver_feature_age_seconds_bucket", "featureserver_build_info", "process_resident_memory_bytes",
      "process_open_fds", "process_cpu_seconds_total", "featureserver_predictions_total",
      "featureserver_model_inference_seconds_bucket", "featureserver_model_info", "featureserver_model_reloads_total",
    ] {
      XCTAssertTrue(metrics.body.contains(name), "missing \(name)")
    }
    // The second GET and the prediction's read of customer 1 hit.
    XCTAssertTrue(metrics.body.contains(#"featureserver_cache_requests_total{result="hit"} 2"#))
    guard let promtool = which("promtool") else {
      throw XCTSkip("promtool not installed (scripts/setup.sh installs prometheus)")
    }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(getpid()).txt")
    try metrics.body.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try runCommand("/bin/sh", ["-c", "\(promtool) check metrics < \(file.path)"])
    XCTAssertEqual(result.status, 0, result.output)
  }
}
