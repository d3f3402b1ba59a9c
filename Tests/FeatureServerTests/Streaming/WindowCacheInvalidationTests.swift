import Foundation
import TestSupport
import XCTest

@testable import FeatureServer

/// Window events stay cached until Redis says they changed (CLIENT TRACKING): served from the
/// cache past the short window TTL, fresh within moments of a write, and forgotten when the
/// invalidation connection is lost or Redis is flushed.
final class WindowCacheInvalidationTests: XCTestCase {
  func testEventsStayCachedUntilRedisSaysTheyChanged() throws {
    // An entity without events is not a missing instance: kept for the row TTL, not this one.
    let harness = try listeningHarness { $0.cache.negativeTTL = 0.1 }
    defer { harness.stop() }
    try harness.writeCustomer(7)
    XCTAssertEqual(try transactions(harness, 7), 0)
    let reads = try harness.commandCalls("hvals")
    usleep(200_000)  // 4 short window TTLs, 2 negative TTLs
    XCTAssertEqual(try transactions(harness, 7), 0)
    XCTAssertEqual(try harness.commandCalls("hvals"), reads, "the events came from the cache")

    try writeEvent(harness, customer: 7, id: "t1")
    XCTAssertNotNil(waitUntil(timeout: 0.5) { (try? self.transactions(harness, 7)) == 1 }, "served soon after")
    let metrics = try harness.get("/metrics").body
    XCTAssertTrue(metrics.contains("featureserver_window_invalidation_listening 1\n"), metrics)
    XCTAssertGreaterThanOrEqual(
      SharedCacheTests.value(#"featureserver_window_invalidations_total{kind="key"}"#, in: metrics) ?? 0, 1)
  }

  func testALostInvalidationConnectionIsMadeAgainAndChangesAreServed() throws {
    let harness = try listeningHarness()
    defer { harness.stop() }
    try harness.writeCustomer(8)
    XCTAssertEqual(try transactions(harness, 8), 0)
    try harness.redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"])
    XCTAssertNotNil(
      waitUntil(timeout: 5) {
        let metrics = (try? harness.get("/metrics").body) ?? ""
        return metrics.contains("featureserver_window_invalidation_connections_total 2\n")
          && metrics.contains("featureserver_window_invalidation_listening 1\n")
      }, "reconnected")
    try writeEvent(harness, customer: 8, id: "t1")
    XCTAssertNotNil(waitUntil(timeout: 0.5) { (try? self.transactions(harness, 8)) == 1 })
    try writeEvent(harness, customer: 8, id: "t2")
    XCTAssertNotNil(waitUntil(timeout: 0.5) { (try? self.transactions(harness, 8)) == 2 })
  }

  func testRedisGoneStopsTheListeningAndItsRetriesDoNoHarm() throws {
    let harness = try listeningHarness()
    defer { harness.stop() }
    harness.redis.kill(signal: SIGKILL)
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    XCTAssertNotNil(waitUntil(timeout: 5) { !listener.isListening })
    usleep(600_000)  // several refused reconnects
    XCTAssertFalse(listener.isListening)
    XCTAssertEqual(try harness.get("/health").status, 200)
  }

  func testFlushingRedisForgetsCachedEvents() throws {
    let harness = try listeningHarness()
    defer { harness.stop() }
    try harness.writeCustomer(9)
    try writeEvent(harness, customer: 9, id: "t1")
    XCTAssertEqual(try transactions(harness, 9), 1)
    try harness.redis.cli(["FLUSHALL"])
    try harness.writeCustomer(9)
    XCTAssertNotNil(waitUntil(timeout: 0.5) { (try? self.transactions(harness, 9)) == 0 })
  }

  func testWithoutInvalidationsEventsExpireAfterTheShortTTL() throws {
    let harness = try FeatureServerHarness(threads: 2) { $0.stream.windowInvalidation = false }
    defer { harness.stop() }
    XCTAssertNil(harness.service.windowInvalidations)
    try harness.writeCustomer(7)
    XCTAssertEqual(try transactions(harness, 7), 0)
    let reads = try harness.commandCalls("hvals")
    usleep(100_000)
    XCTAssertEqual(try transactions(harness, 7), 0)
    XCTAssertEqual(try harness.commandCalls("hvals"), reads + 1)
    XCTAssertFalse(try harness.get("/metrics").body.contains("featureserver_window_invalidation_listening"))
  }

  private func listeningHarness(
    configure: (inout FeatureServiceConfiguration) -> Void = { _ in }
  ) throws -> FeatureServerHarness {
    let harness = try FeatureServerHarness(threads: 2, configure: configure)
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    XCTAssertNotNil(waitUntil(timeout: 5) { listener.isListening }, "the listener subscribed")
    return harness
  }

  /// `txn_count_5m` as served.
  private func transactions(_ harness: FeatureServerHarness, _ customer: Int) throws -> Int? {
    let reply = try harness.get("/features/customer/\(customer)")
    return (reply.json["features"] as? [String: Any])?["txn_count_5m"] as? Int
  }

  /// One event now, stored as the stream consumer stores it.
  private func writeEvent(_ harness: FeatureServerHarness, customer: Int, id: String) throws {
    let micros = Int(Date().timeIntervalSince1970 * 1_000_000)
    try harness.redis.cli(["HSET", "fs:win:{customer:\(customer)}", id, "\(micros) 25.5 -"])
  }
}
