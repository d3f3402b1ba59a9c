import XCTest

@testable import RedisPool

/// Slot hashing, redirect parsing and cluster URLs: the pure parts of cluster routing, checked
/// against the vectors Redis itself gives (`CLUSTER KEYSLOT`).
final class ClusterRoutingTests: XCTestCase {
  func testCRC16MatchesTheClusterSpecificationVector() {
    XCTAssertEqual(ClusterSlot.crc16(Array("123456789".utf8)), 0x31C3)
  }

  func testSlotsEqualRedisKeyslotIncludingHashTags() {
    let vectors: [(String, UInt16)] = [
      ("fs:user:42", 6047), ("fs:{user:42}:stats", 15880), ("user:42", 15880), ("fs:{user:1}:a", 10778),
      ("foo", 12182), ("{user1000}.following", 3443), ("{user1000}.followers", 3443), ("foo{}{bar}", 8363),
      ("foo{{bar}}zap", 4015), ("foo{bar}{zap}", 5061), ("fs:user:1", 6669), ("fs:user:7", 15051), ("", 0),
      ("{", ClusterSlot.of(Array("{".utf8))), ("}{", ClusterSlot.of(Array("}{".utf8))),
    ]
    for (key, slot) in vectors {
      XCTAssertEqual(ClusterSlot.of(Array(key.utf8)), slot, key)
    }
    // A slice hashes like the bytes it holds.
    let bytes = Array("xxfs:user:42".utf8)
    XCTAssertEqual(ClusterSlot.of(Array(bytes[2...])), 6047)
    XCTAssertEqual(ClusterSlot.of(bytes[2...]), 6047)
    XCTAssertEqual(ClusterSlot.of(Array("xx{user:42}".utf8)[2...]), 15880)
  }

  func testCommandsCarryTheSlotOfTheirKey() {
    XCTAssertEqual(RedisCommand("HGETALL", "fs:user:42").slot, 6047)
    XCTAssertEqual(RedisCommand("EVAL", "return 1", "1", "fs:user:42", "x").slot, 6047)
    XCTAssertNil(RedisCommand("EVAL", "return 1", "0").slot)
    XCTAssertEqual(RedisCommand("XREADGROUP", "GROUP", "g", "c", "STREAMS", "fs:user:42", ">").slot, 6047)
    XCTAssertNil(RedisCommand("PING").slot)
    XCTAssertNil(RedisCommand("MULTI").slot)
    XCTAssertEqual(
      RedisCommand("HMGET", key: Array("fs:user:42".utf8), tail: RedisCommand.EncodedArguments([[1]])).slot, 6047)
    XCTAssertTrue(RedisCommand("HGETALL", "k").isReadOnly)
    XCTAssertFalse(RedisCommand("HSET", "k", "f", "v").isReadOnly)
    XCTAssertFalse(RedisCommand("EVAL", "return 1", "1", "k").isReadOnly)
  }

  func testRedirectRepliesAreRecognisedAndOthersLeftAlone() {
    func parse(_ text: String) -> ClusterRedirect? { ClusterRedirect(errorText: Array(text.utf8)) }
    XCTAssertEqual(parse("MOVED 6047 127.0.0.1:17001"), .moved(slot: 6047, address: "127.0.0.1:17001"))
    XCTAssertEqual(parse("ASK 6047 127.0.0.1:17002"), .ask(slot: 6047, address: "127.0.0.1:17002"))
    XCTAssertEqual(parse("MOVED 1 [::1]:7000"), .moved(slot: 1, address: "::1:7000"))
    XCTAssertEqual(parse("TRYAGAIN Multiple keys request during rehashing of slot"), .tryAgain)
    XCTAssertEqual(
      parse("CLUSTERDOWN The cluster is down"), .clusterDown("CLUSTERDOWN The cluster is down"))
    for other in [
      "", "MOVED", "MOVED 16384 127.0.0.1:1", "MOVED x 127.0.0.1:1", "MOVED 1 :7000", "MOVED 1 host:0",
      "MOVED 1 host:99999", "ASK 1", "WRONGTYPE Operation against a key", "ERR unknown command", "CROSSSLOT Keys",
      "MOVEDX 1 h:1",
    ] {
      XCTAssertNil(parse(other), other)
    }
  }

  func testClusterURLsGiveSeedsAndRefuseWhatAClusterCannotDo() throws {
    let configuration = try RedisConfiguration(url: "redis+cluster://app:s%40cret@127.0.0.1:7000,127.0.0.1:7001")
    XCTAssertEqual(
      configuration.clusterSeeds, [.tcp(host: "127.0.0.1", port: 7000), .tcp(host: "127.0.0.1", port: 7001)])
    XCTAssertEqual(configuration.username, "app")
    XCTAssertEqual(configuration.password, "s@cret")
    XCTAssertEqual(configuration.redactedURL, "redis+cluster://app:***@127.0.0.1:7000,127.0.0.1:7001")
    XCTAssertEqual(
      RedisConfiguration.redacting("redis+cluster://u:pw@h:1,h:2"), "redis+cluster://u:***@h:1,h:2")
    XCTAssertTrue(configuration.isCluster)
    XCTAssertNoThrow(try RedisConfiguration(url: "redis+cluster://127.0.0.1:7000/0"))
    for bad in ["redis+cluster://", "redis+cluster://127.0.0.1:7000/3", "redis+cluster://127.0.0.1:0"] {
      XCTAssertThrowsError(try RedisConfiguration(url: bad), bad)
    }
    var single = try RedisConfiguration(url: "redis://127.0.0.1:6379")
    single.readFrom = .replica
    XCTAssertThrowsError(try single.validate()) { error in
      XCTAssertTrue("\(error)".contains("needs a cluster"), "\(error)")
    }
  }

  func testTopologyIsReadFromClusterSlotsToo() throws {
    // CLUSTER SLOTS as Redis 6 answers it: two ranges, the second with a replica.
    let node = { (port: Int64, id: String) -> RedisValue in
      .array([.bulk(Array("10.0.0.1".utf8)), .integer(port), .bulk(Array(id.utf8))])
    }
    let reply = RedisValue.array([
      .array([.integer(0), .integer(8191), node(7000, "a")]),
      .array([.integer(8192), .integer(16383), node(7001, "b"), node(7002, "c")]),
    ])
    let topology = try ClusterTopology.fromSlots(reply, queriedHost: "10.0.0.9")
    XCTAssertEqual(topology.nodes.map(\.address), ["10.0.0.1:7000", "10.0.0.1:7001", "10.0.0.1:7002"])
    XCTAssertEqual(topology.slotsCovered, 16384)
    XCTAssertEqual(topology.slotOwners[8191], 0)
    XCTAssertEqual(topology.slotOwners[8192], 1)
    XCTAssertEqual(topology.replicas(of: 1), [2])
    for broken: RedisValue in [
      .integer(1), .array([.array([.integer(0), .integer(16384), node(1, "x")])]),
      .array([.array([.integer(5), .integer(1), node(1, "x")])]), .array([.array([.integer(0), .integer(1)])]),
      .array([.array([.integer(0), .integer(1), .array([.bulk([]), .integer(0)])])]),
    ] {
      XCTAssertThrowsError(try ClusterTopology.fromSlots(broken, queriedHost: "h"))
    }
    // A reply naming more nodes than slot owners can index is refused, not a trap.
    var ranges: [RedisValue] = []
    for index in 0...ClusterTopology.maxNodes {
      let host = RedisValue.bulk(Array("10.\(index / 256 % 256).\(index % 256).1".utf8))
      let slot = RedisValue.integer(Int64(index % ClusterSlot.count))
      ranges.append(.array([slot, slot, .array([host, .integer(7000)])]))
    }
    let crowded = RedisValue.array(ranges)
    XCTAssertThrowsError(try ClusterTopology.fromSlots(crowded, queriedHost: "h")) { error in
      XCTAssertEqual("\(error)", "more than \(ClusterTopology.maxNodes) nodes")
    }
  }
}
