import Foundation
import Reactor
import TestSupport
import XCTest

@testable import RedisPool

/// The pool against a real 3 + 3 Redis Cluster the tests start: commands reach the node that
/// owns their slot, batches spread over the shards complete in order, MOVED and ASK are
/// followed, and replica reads keep the primaries free of reads.
final class ClusterPoolTests: XCTestCase {
  static var cluster: RedisClusterProcess?
  var group: EventLoopGroup!

  override class func setUp() {
    cluster = try? RedisClusterProcess()
  }

  override class func tearDown() {
    cluster?.stopAll()
    cluster = nil
  }

  override func setUpWithError() throws {
    guard Self.cluster != nil else { throw XCTSkip("the test cluster did not start") }
    group = try EventLoopGroup(threads: 2)
    try group.start()
  }

  override func tearDown() {
    group?.stop()
    group?.wait()
    group = nil
  }

  var cluster: RedisClusterProcess { Self.cluster! }

  func makePool(configure: (inout RedisConfiguration) -> Void = { _ in }) throws -> RedisPool {
    var configuration = try RedisConfiguration(url: cluster.url)
    configuration.clusterRefreshInterval = 3600  // only redirects and failures refresh it here
    configure(&configuration)
    let pool = try RedisPool(configuration: configuration, group: group)
    pool.start()
    XCTAssertNotNil(
      waitUntil(timeout: 10) {
        let snapshot = pool.statisticsSnapshot()
        return snapshot.connectionsUp == snapshot.connectionsConfigured
          && snapshot.cluster?.unreachableNodesByLoop.allSatisfy(\.isEmpty) == true
      }, "the pool did not connect to every node")
    return pool
  }

  func closeAndWait(_ pool: RedisPool) {
    let closed = expectation(description: "pool closed")
    pool.close { closed.fulfill() }
    wait(for: [closed], timeout: 5)
  }

  func run(_ pool: RedisPool, batch commands: [RedisCommand], loop index: Int = 0) -> [RedisResult] {
    let loop = group.loops[index]
    let done = DispatchSemaphore(value: 0)
    let box = Collected<[RedisResult]>()
    loop.execute {
      pool.on(loop).send(batch: commands) { results in
        box.append(results)
        done.signal()
      }
    }
    _ = done.wait(timeout: .now() + 10)
    return box.values.first ?? []
  }

  func run(_ pool: RedisPool, _ command: RedisCommand, loop: Int = 0) -> RedisResult {
    run(pool, batch: [command], loop: loop).first ?? .failure(.connectionLost("test timed out waiting"))
  }

  func testTheFixedPoolIsSpreadOverThePrimariesAndCommandsReachTheirOwnerWithoutRedirects() throws {
    let pool = try makePool()
    defer { closeAndWait(pool) }
    let snapshot = pool.statisticsSnapshot()
    XCTAssertEqual(snapshot.connectionsConfigured, 50)
    XCTAssertEqual(snapshot.connectionsUp, 50)
    XCTAssertEqual(snapshot.cluster?.topology?.slotsServed, 16384)
    XCTAssertEqual(snapshot.cluster?.topology?.nodes.filter(\.isPrimary).count, 3)
    // 25 per loop over 3 primaries: 9 + 8 + 8, each named by CLIENT SETNAME.
    for primary in try cluster.primaries() {
      let clients = try cluster.cli(primary, ["CLIENT", "LIST"]).split(separator: "\n")
        .filter { $0.contains("name=featureserver") }
      XCTAssertTrue((16...18).contains(clients.count), "\(primary.port): \(clients.count) connections")
    }
    let keys = (0..<300).map { "fs:customer:\($0)" }
    let writes = run(pool, batch: keys.map { RedisCommand("SET", $0, "v-\($0)") })
    XCTAssertEqual(writes.count, 300)
    XCTAssertTrue(writes.allSatisfy { (try? $0.get()) == .status("OK") }, "\(writes.prefix(3))")
    let reads = run(pool, batch: keys.map { RedisCommand("GET", $0) }, loop: 1)
    XCTAssertEqual(reads.compactMap { try? $0.get().text }, keys.map { "v-\($0)" }, "answers in order")
    XCTAssertEqual(pool.statisticsSnapshot().redirects.values.reduce(0, +), 0, "routed without redirects")
    // Each key sits on the primary owning its slot (a plain GET there answers, no MOVED).
    for key in keys.prefix(20) {
      XCTAssertEqual(
        try cluster.cli(try cluster.primary(ofKey: key), ["GET", key]).trimmingCharacters(in: .whitespacesAndNewlines),
        "v-\(key)")
    }
  }

  func testAskDuringAMigrationAndMovedAfterItAreFollowed() throws {
    let pool = try makePool()
    defer { closeAndWait(pool) }
    let key = "fs:customer:ask-moved"
    XCTAssertEqual(try run(pool, RedisCommand("SET", key, "here")).get(), .status("OK"))
    let source = try cluster.primary(ofKey: key)
    let target = try cluster.primaries().first { $0.port != source.port }!
    let slot = String(ClusterSlot.of(Array(key.utf8)))
    let sourceID = try cluster.cli(source, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let targetID = try cluster.cli(target, ["CLUSTER", "MYID"]).trimmingCharacters(in: .whitespacesAndNewlines)
    try cluster.cli(target, ["CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID])
    try cluster.cli(source, ["CLUSTER", "SETSLOT", slot, "MIGRATING", targetID])
    XCTAssertTrue(
      try cluster.cli(source, ["MIGRATE", "127.0.0.1", "\(target.port)", key, "0", "5000"]).contains("OK"))
    // Migrating: the source answers ASK, the pool asks the target.
    XCTAssertEqual(try run(pool, RedisCommand("GET", key)).get(), .bulk(Array("here".utf8)))
    XCTAssertEqual(pool.statisticsSnapshot().redirects[.ask], 1)
    XCTAssertEqual(pool.statisticsSnapshot().redirects[.moved], 0)
    // Migrated: the source answers MOVED once; then the map knows.
    for node in try cluster.primaries() { try cluster.cli(node, ["CLUSTER", "SETSLOT", slot, "NODE", targetID]) }
    XCTAssertEqual(try run(pool, RedisCommand("GET", key)).get(), .bulk(Array("here".utf8)))
    XCTAssertEqual(try run(pool, RedisCommand("GET", key)).get(), .bulk(Array("here".utf8)))
    let moved = pool.statisticsSnapshot().redirects[.moved] ?? 0
    XCTAssertEqual(moved, 1, "one MOVED, then the updated map routes directly")
    XCTAssertTrue(cluster.waitUntilHealthy(timeout: 10))
  }

  func testReplicaReadsLeaveThePrimariesWithoutReads() throws {
    let pool = try makePool { $0.readFrom = .replica }
    defer { closeAndWait(pool) }
    let keys = (0..<200).map { "fs:merchant:\($0)" }
    XCTAssertTrue(
      run(pool, batch: keys.map { RedisCommand("HSET", $0, "f", "v\($0)") }).allSatisfy {
        (try? $0.get()) == .integer(1) || (try? $0.get()) == .integer(0)
      })
    // Let the replicas catch up, then count commands afresh.
    XCTAssertNotNil(
      waitUntil(timeout: 5) {
        (try? self.cluster.replicas())?.allSatisfy { replica in
          (try? self.cluster.cli(replica, ["INFO", "replication"]))?.contains("master_link_status:up") == true
        } == true
      })
    // Redis calls a replica whose offset it has not heard of yet "loading": the pool uses it
    // once a topology read shows it online (within a second while a node is not).
    XCTAssertNotNil(
      waitUntil(timeout: 10) {
        pool.statisticsSnapshot().cluster?.topology?.nodes.filter { !$0.isPrimary && $0.isHealthy }.count == 3
      })
    usleep(200_000)
    for node in cluster.nodes where node.isRunning { try cluster.cli(node, ["CONFIG", "RESETSTAT"]) }
    let reads = run(pool, batch: keys.map { RedisCommand("HGETALL", $0) })
    XCTAssertEqual(
      reads.compactMap { try? $0.get() }, keys.map { .array([.bulk(Array("f".utf8)), .bulk(Array("v\($0)".utf8))]) })
    for primary in try cluster.primaries() {
      XCTAssertFalse(try cluster.cli(primary, ["INFO", "commandstats"]).contains("cmdstat_hgetall"), "\(primary.port)")
    }
    let replicaReads = try cluster.replicas().map { try cluster.cli($0, ["INFO", "commandstats"]) }
    XCTAssertEqual(
      replicaReads.filter { $0.contains("cmdstat_hgetall") }.count, 3, "every shard's replica served reads")
    // Writes still go to the primaries.
    XCTAssertEqual(try run(pool, RedisCommand("HSET", "fs:merchant:0", "f", "w")).get(), .integer(0))
  }
}
