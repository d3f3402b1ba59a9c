import Foundation
import TestSupport
import XCTest

@_spi(Benchmarks) @testable import FeatureServer

/// The cache all loops share: what one loop fetched is a hit on every other, concurrent misses
/// on several loops make one Redis read, and its bounds hold.
final class SharedCacheTests: XCTestCase {
  /// Connections spread over the loops by SO_REUSEPORT's hash: with 16 of them on 4 loops, all
  /// on one loop has a chance of 4^-15.
  private let connectionCount = 16

  func testMissOnOneConnectionIsAHitOnEveryOtherLoop() throws {
    let harness = try FeatureServerHarness(threads: 4)
    defer { harness.stop() }
    try harness.writeCustomer(5)
    XCTAssertEqual(try harness.get("/features/customer/5").headers["x-cache"], "MISS")
    let before = try harness.hgetallCalls()
    let connections = try (0..<connectionCount).map { _ in try RawConnection(port: harness.port) }
    for connection in connections {
      connection.send("GET /features/customer/5 HTTP/1.1\r\nHost: t\r\n\r\n")
      let reply = FeatureServerHarness.parse(connection.readResponses(1).first ?? "")
      XCTAssertEqual(reply.status, 200)
      XCTAssertEqual(reply.headers["x-cache"], "HIT", "a second request on any connection is a hit")
    }
    XCTAssertEqual(try harness.hgetallCalls(), before, "no loop read the row again")
    let metrics = try harness.get("/metrics").body
    XCTAssertTrue(metrics.contains(#"featureserver_cache_requests_total{result="hit"} \#(connectionCount)"#), metrics)
    XCTAssertTrue(metrics.contains("featureserver_cache_entries 2\n"), "the row and its (missing) events, once")
  }

  func testConcurrentMissesOnFourLoopsMakeOneRedisRead() throws {
    let harness = try FeatureServerHarness(threads: 4)
    defer { harness.stop() }
    try harness.writeCustomer(9)
    let before = try harness.hgetallCalls()
    let connections = try (0..<connectionCount).map { _ in try RawConnection(port: harness.port) }
    // Redis holds every command for 250 ms: the first miss's read is in flight while the other
    // loops miss the same key.
    try harness.redis.cli(["CLIENT", "PAUSE", "250", "ALL"])
    for connection in connections { connection.send("GET /features/customer/9 HTTP/1.1\r\nHost: t\r\n\r\n") }
    var caches: [String] = []
    for connection in connections {
      let reply = FeatureServerHarness.parse(connection.readResponses(1).first ?? "")
      XCTAssertEqual(reply.status, 200, reply.body)
      XCTAssertEqual((reply.json["features"] as? [String: Any])?["age"] as? Int, 41)
      caches.append(reply.headers["x-cache"] ?? "")
    }
    XCTAssertEqual(try harness.hgetallCalls() - before, 1, "single-flight across loops: one HGETALL")
    XCTAssertEqual(Set(caches), ["MISS"], "each waited for the one read")
    XCTAssertEqual(try harness.get("/features/customer/9").headers["x-cache"], "HIT")
  }

  func testCacheStaysWithinItsByteBound() throws {
    let bound = 1 << 20
    let harness = try FeatureServerHarness(threads: 2) {
      $0.cache.maxBytes = bound
      $0.cache.ttl = 60
    }
    defer { harness.stop() }
    try harness.loadBundledData()
    for first in stride(from: 1, through: 2901, by: 100) {
      let items = (first..<first + 100).map { #"{"entity":"customer","id":"\#($0)"}"# }.joined(separator: ",")
      XCTAssertEqual(try harness.post("/features", #"{"items":[\#(items)]}"#).status, 200)
    }
    let metrics = try harness.get("/metrics").body
    let bytes = try XCTUnwrap(Self.value("featureserver_cache_bytes", in: metrics))
    let evictions = try XCTUnwrap(Self.value("featureserver_cache_evictions_total", in: metrics))
    let entries = try XCTUnwrap(Self.value("featureserver_cache_entries", in: metrics))
    XCTAssertLessThanOrEqual(bytes, bound, "entries \(entries) evictions \(evictions)")
    XCTAssertGreaterThan(bytes, bound / 2, "the bound is used, not left empty")
    XCTAssertGreaterThan(evictions, 0)
    XCTAssertLessThan(entries, 6000, "3000 rows and their events do not fit in 1 MiB")
    XCTAssertTrue(metrics.contains("featureserver_cache_max_bytes \(bound)\n"))
  }

  func testShardsSplitTheBoundsAndKeepSmallCachesWhole() {
    var configuration = CacheConfiguration()
    XCTAssertEqual(SharedFeatureCache(configuration: configuration).shards.count, 64)
    configuration.maxBytes = 4 << 20
    XCTAssertEqual(SharedFeatureCache(configuration: configuration).shards.count, 4)
    configuration.maxBytes = 1 << 30
    configuration.maxEntries = 1000
    XCTAssertEqual(SharedFeatureCache(configuration: configuration).shards.count, 2)
    configuration.maxEntries = 300
    let small = SharedFeatureCache(configuration: configuration)
    XCTAssertEqual(small.shards.count, 1)
    XCTAssertEqual(small.shards[0].cache.capacity, 300)
  }

  func testAChangeHeardDuringAFetchKeepsWhatItReadOutOfTheCache() {
    let cache = FeatureCache(configuration: CacheConfiguration(), capacity: 100)
    let key = RowKey("fs:win:{customer:1}")
    var delivered = 0
    XCTAssertTrue(cache.join(key, FetchWaiter(loop: nil) { _ in delivered += 1 }))
    cache.invalidate(key)  // Redis changed the key after the read left
    for waiter in cache.finish(key, .missing, now: 1) { waiter.deliver(.missing) }
    XCTAssertEqual(delivered, 1, "the caller is answered")
    guard case .miss = cache.lookup(key, now: 2) else { return XCTFail("a read older than a change was kept") }
    XCTAssertTrue(cache.join(key, FetchWaiter(loop: nil) { _ in }))
    _ = cache.finish(key, .missing, now: 3)
    guard case .fresh = cache.lookup(key, now: 4) else { return XCTFail("the next read is kept") }
  }

  static func value(_ name: String, in metrics: String) -> Int? {
    metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ")[1]) }
  }
}
