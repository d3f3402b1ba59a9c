import Foundation
import RedisPool
import TestSupport
import XCTest

@_spi(Benchmarks) @testable import FeatureServer

/// The consumer's own event writes reach the cache directly (write-through), and the cache
/// still holds exactly what Redis holds: after its writes, after another client's, and after
/// its writing connection is made again.
final class WindowWriteThroughTests: XCTestCase {
  // MARK: The cache's side, fed directly

  func testACachedCopyOneFieldShortTakesTheEventAndAnyOtherCopyGoes() {
    let cache = FeatureCache(configuration: CacheConfiguration(), capacity: 16)
    let key = RowKey("fs:win:{customer:1}")
    cache.store(key, row: .windowEvents(Self.events([(10, 1.5), (20, 2.5)])), now: 0)
    let third = StoredWindowEvents.Event(time: 30, value: 4, cutoff: Int64.min)

    XCTAssertEqual(cache.applyOwnWrite(key, event: third, length: 3, now: 1), .applied)
    guard case .fresh(.row(.windowEvents(let events)), _) = cache.lookup(key, now: 2) else {
      return XCTFail("the copy stays cached")
    }
    XCTAssertEqual(
      (0..<events.count).map { events[$0] },
      [.init(time: 10, value: 1.5, cutoff: Int64.min), .init(time: 20, value: 2.5, cutoff: Int64.min), third])

    // Redis holds a field more than copy + event: someone else wrote too.
    XCTAssertEqual(cache.applyOwnWrite(key, event: third, length: 5, now: 3), .dropped)
    XCTAssertEqual(cache.lookup(key, now: 4).isMiss, true)
    XCTAssertEqual(cache.applyOwnWrite(key, event: third, length: 1, now: 5), .notCached)
  }

  func testAWriteOfUnknownOutcomeDropsTheCopy() {
    let cache = FeatureCache(configuration: CacheConfiguration(), capacity: 16)
    let key = RowKey("fs:win:{customer:2}")
    cache.store(key, row: .windowEvents(Self.events([(10, 1)])), now: 0)
    XCTAssertEqual(cache.applyOwnWrite(key, event: nil, length: 2, now: 1), .dropped)
    cache.store(key, row: .windowEvents(Self.events([(10, 1)])), now: 2)
    let event = StoredWindowEvents.Event(time: 11, value: 1, cutoff: 0)
    XCTAssertEqual(cache.applyOwnWrite(key, event: event, length: nil, now: 3), .dropped)
    XCTAssertEqual(cache.lookup(key, now: 4).isMiss, true)
  }

  func testAnEntityWithoutEventsTakesItsFirstAsARow() {
    let cache = FeatureCache(configuration: CacheConfiguration(), capacity: 16)
    let key = RowKey("fs:win:{customer:3}")
    cache.store(key, .missing, now: 0, lifetime: 1_000_000_000)
    let event = StoredWindowEvents.Event(time: 11, value: 7, cutoff: 5)
    XCTAssertEqual(cache.applyOwnWrite(key, event: event, length: 1, now: 10), .applied)
    guard case .fresh(.row(.windowEvents(let events)), _) = cache.lookup(key, now: 20) else {
      return XCTFail("kept as a row")
    }
    XCTAssertEqual((0..<events.count).map { events[$0] }, [event])
    XCTAssertEqual(cache.negativeEntries, 0)
    // It keeps the lifetime the empty entry had.
    guard case .expired = cache.lookup(key, now: 1_000_000_001) else { return XCTFail("expires when it would have") }
  }

  func testAFetchUnderWayDuringAWriteDoesNotKeepWhatItRead() {
    let cache = FeatureCache(configuration: CacheConfiguration(), capacity: 16)
    let key = RowKey("fs:win:{customer:4}")
    XCTAssertTrue(cache.join(key, FetchWaiter(loop: nil, deliver: { _ in })))
    let event = StoredWindowEvents.Event(time: 11, value: 7, cutoff: 5)
    XCTAssertEqual(cache.applyOwnWrite(key, event: event, length: 1, now: 1), .notCached)
    // The fetch may have read the hash before the write: answered, not kept.
    XCTAssertEqual(cache.finish(key, .missing, now: 2).count, 1)
    XCTAssertEqual(cache.lookup(key, now: 3).isMiss, true)
  }

  // MARK: End to end, on a real redis-server

  func testTheConsumersEventsAreServedFromTheCacheExactlyAsRedisHoldsThem() throws {
    let harness = try writeThroughHarness()
    defer { harness.stop() }
    let customers = Array(31...60)
    for customer in customers { try harness.writeCustomer(customer) }
    for customer in customers { XCTAssertEqual(try transactions(harness, customer), 0) }
    let reads = try harness.commandCalls("hvals")
    for round in 1...4 {
      try append(harness, customers.map { ($0, "t\($0)-\(round)", Double($0) + Double(round) / 8) })
      XCTAssertNotNil(
        waitUntil(timeout: 10) { self.metric(harness, "featureserver_stream_events_total") == round * customers.count })
      for customer in customers { XCTAssertEqual(try transactions(harness, customer), round, "customer \(customer)") }
    }
    // Every event reached the cached copy, except where a hash was pruned (once per 32 events
    // of an entity): then the copy went and the next GET read the events again.
    let applied = try XCTUnwrap(metric(harness, #"featureserver_window_cache_own_writes_total{outcome="applied"}"#))
    let dropped = try XCTUnwrap(metric(harness, #"featureserver_window_cache_own_writes_total{outcome="dropped"}"#))
    XCTAssertEqual(applied + dropped, 4 * customers.count)
    XCTAssertLessThanOrEqual(
      dropped, customers.count / 4, "at most one prune per entity in 4 events, 1 in 8 on average")
    let readsAfter = try harness.commandCalls("hvals")
    XCTAssertEqual(readsAfter, reads + dropped, "every other answer came from the cache the consumer kept")

    // Exactly what a read of Redis gives: the same answers once the cache has forgotten them.
    waitForRoomInTheSlide()
    let cached = try customers.map { try features(harness, $0) }
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    try harness.redis.cli(["CLIENT", "KILL", "TYPE", "pubsub"])
    XCTAssertNotNil(
      waitUntil(timeout: 5) {
        self.metric(harness, "featureserver_window_invalidation_connections_total") == 2 && listener.isListening
      }, "listening again, through the writer's new registration")
    let fresh = try customers.map { try features(harness, $0) }
    XCTAssertEqual(try harness.commandCalls("hvals"), readsAfter + customers.count, "read again from Redis")
    for (position, customer) in customers.enumerated() {
      XCTAssertEqual(cached[position], fresh[position], "customer \(customer)")
    }
  }

  func testAChangeByAnotherClientStillReachesTheCache() throws {
    let harness = try writeThroughHarness(withOneEventFor: 71)
    defer { harness.stop() }
    XCTAssertEqual(try transactions(harness, 71), 1)
    try writeByAnotherClient(harness, customer: 71, id: "other")
    XCTAssertNotNil(waitUntil(timeout: 1) { (try? self.transactions(harness, 71)) == 2 }, "heard")
  }

  func testAWriterConnectionMadeAgainRegistersAgainAndForgetsWhatWasCached() throws {
    let harness = try writeThroughHarness(withOneEventFor: 81)
    defer { harness.stop() }
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    let ticket = listener.ticket
    let list = try harness.redis.cli(["CLIENT", "LIST"])
    let writer = try XCTUnwrap(
      list.split(separator: "\n").first { $0.contains(" flags=tB") || $0.contains(" flags=t ") }?.split(separator: " ")
        .first?.dropFirst(3),
      "the writer's connection tracks keys: \(list)")
    try harness.redis.cli(["CLIENT", "KILL", "ID", String(writer)])
    // Changes by others while it was gone may not have been heard: a new generation.
    XCTAssertNotNil(waitUntil(timeout: 5) { listener.ticket != ticket && listener.isListening })
    let reads = try harness.commandCalls("hvals")
    XCTAssertEqual(try transactions(harness, 81), 1)
    XCTAssertEqual(try harness.commandCalls("hvals"), reads + 1, "the cached events were forgotten")
    try writeByAnotherClient(harness, customer: 81, id: "other")
    XCTAssertNotNil(waitUntil(timeout: 1) { (try? self.transactions(harness, 81)) == 2 }, "heard again")
    try append(harness, [(81, "second", 3)])
    XCTAssertNotNil(waitUntil(timeout: 10) { (try? self.transactions(harness, 81)) == 3 })
  }

  func testWithoutWriteThroughTheListenerRegistersItself() throws {
    let harness = try FeatureServerHarness(
      threads: 1,
      configure: {
        $0.stream.stream = "fs:events"
        $0.stream.windowWriteThrough = false
      })
    defer { harness.stop() }
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    XCTAssertEqual(listener.registration, .own)
    XCTAssertNil(harness.service.consumer?.writeThrough)
    XCTAssertNotNil(waitUntil(timeout: 5) { listener.isListening })
    try harness.writeCustomer(91)
    try append(harness, [(91, "a", 1)])
    XCTAssertNotNil(waitUntil(timeout: 10) { (try? self.transactions(harness, 91)) == 1 })
    XCTAssertFalse(try harness.get("/metrics").body.contains("featureserver_window_cache_own_writes_total"))
  }

  // MARK: Helpers

  private static func events(_ pairs: [(Int64, Double)]) -> StoredWindowEvents {
    StoredWindowEvents(pairs.map { .init(time: $0.0, value: $0.1, cutoff: Int64.min) })
  }

  private func writeThroughHarness() throws -> FeatureServerHarness {
    // A long TTL: no refresh ahead re-reads events while a test counts Redis's reads.
    let harness = try FeatureServerHarness(
      threads: 2,
      configure: {
        $0.stream.stream = "fs:events"
        $0.cache.ttl = 120
      })
    let listener = try XCTUnwrap(harness.service.windowInvalidations)
    XCTAssertEqual(listener.registration, .byWriter)
    XCTAssertNotNil(harness.service.consumer?.writeThrough)
    XCTAssertNotNil(waitUntil(timeout: 5) { listener.isListening }, "the writer registered")
    return harness
  }

  /// A harness whose `customer` has one event stored and served.
  private func writeThroughHarness(withOneEventFor customer: Int) throws -> FeatureServerHarness {
    let harness = try writeThroughHarness()
    do {
      try harness.writeCustomer(customer)
      try append(harness, [(customer, "first", 3)])
    } catch {
      harness.stop()
      throw error
    }
    XCTAssertNotNil(waitUntil(timeout: 10) { (try? self.transactions(harness, customer)) == 1 })
    return harness
  }

  /// Events now, appended with XADD as a producer would.
  private func append(_ harness: FeatureServerHarness, _ events: [(customer: Int, id: String, amount: Double)]) throws {
    let producer = try RawConnection(port: harness.redis.port)
    let now = Date().timeIntervalSince1970
    var resp = ""
    for event in events {
      let arguments = [
        "XADD", "fs:events", "*", "transaction_id", event.id, "customer_id", "\(event.customer)", "amount",
        "\(event.amount)", "event_timestamp", String(format: "%.6f", now),
      ]
      resp += "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }
    producer.send(resp)
    XCTAssertNotNil(waitUntil(timeout: 5) { (try? harness.redis.cli(["XLEN", "fs:events"])) != nil })
  }

  /// One event now, written straight into the hash by another client.
  private func writeByAnotherClient(_ harness: FeatureServerHarness, customer: Int, id: String) throws {
    let micros = Int(Date().timeIntervalSince1970 * 1_000_000)
    try harness.redis.cli(["HSET", "fs:win:{customer:\(customer)}", id, "\(micros) 25.5 -"])
  }

  private func features(_ harness: FeatureServerHarness, _ customer: Int) throws -> NSDictionary {
    let reply = try harness.get("/features/customer/\(customer)")
    return try XCTUnwrap(reply.json["features"] as? NSDictionary, reply.body)
  }

  /// `txn_count_5m` as served.
  private func transactions(_ harness: FeatureServerHarness, _ customer: Int) throws -> Int? {
    let reply = try harness.get("/features/customer/\(customer)")
    return (reply.json["features"] as? [String: Any])?["txn_count_5m"] as? Int
  }

  private func metric(_ harness: FeatureServerHarness, _ name: String) -> Int? {
    SharedCacheTests.value(name, in: (try? harness.get("/metrics").body) ?? "")
  }

  /// Waits until the current 15-second slide has 5 s left, so two rounds of reads serve the
  /// same windows.
  private func waitForRoomInTheSlide() {
    let intoSlide = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 15)
    if intoSlide > 10 { usleep(UInt32((15.1 - intoSlide) * 1_000_000)) }
  }
}

extension FeatureCache.Lookup {
  fileprivate var isMiss: Bool {
    if case .miss = self { return true }
    return false
  }
}
