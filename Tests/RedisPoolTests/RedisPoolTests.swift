import Foundation
import Reactor
import TestSupport
import XCTest

@testable import RedisPool

final class RedisPoolTests: XCTestCase {
  var group: EventLoopGroup!

  override func setUpWithError() throws {
    group = try EventLoopGroup(threads: 2)
    try group.start()
  }

  override func tearDown() {
    group.stop()
    group.wait()
    group = nil
  }

  func makePool(_ url: String, size: Int = 50, configure: (inout RedisConfiguration) -> Void = { _ in }) throws
    -> RedisPool
  {
    var configuration = try RedisConfiguration(url: url)
    configuration.poolSize = size
    configure(&configuration)
    let pool = try RedisPool(configuration: configuration, group: group)
    pool.start()
    return pool
  }

  func closeAndWait(_ pool: RedisPool) {
    let closed = expectation(description: "pool closed")
    pool.close { closed.fulfill() }
    wait(for: [closed], timeout: 5)
  }

  /// Sends one command on `loop` and waits for its result.
  func run(_ pool: RedisPool, _ command: RedisCommand, loop index: Int = 0) -> RedisResult {
    let loop = group.loops[index]
    let done = DispatchSemaphore(value: 0)
    let box = Collected<RedisResult>()
    loop.execute {
      pool.on(loop).send(command) { result in
        box.append(result)
        done.signal()
      }
    }
    _ = done.wait(timeout: .now() + 10)
    return box.values.first ?? .failure(.connectionLost("test timed out waiting"))
  }

  func testCommandsRoundTripWithEveryReplyType() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)")
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 50 })

    XCTAssertEqual(try run(pool, RedisCommand("SET", "k", "v")).get(), .status("OK"))
    XCTAssertEqual(try run(pool, RedisCommand("GET", "k")).get(), .bulk(Array("v".utf8)))
    XCTAssertEqual(try run(pool, RedisCommand("GET", "missing")).get(), .null)
    XCTAssertEqual(try run(pool, RedisCommand("INCR", "n"), loop: 1).get(), .integer(1))
    XCTAssertEqual(
      try run(pool, RedisCommand("HSET", "fs:customer:1", "age", "41", "_ts", "1700000000")).get(), .integer(2))
    guard case .array(let fields) = try run(pool, RedisCommand("HGETALL", "fs:customer:1")).get() else {
      return XCTFail("HGETALL is an array")
    }
    XCTAssertEqual(fields.compactMap(\.text), ["age", "41", "_ts", "1700000000"])
    guard case .error(let message) = try run(pool, RedisCommand("INCR", "k")).get() else {
      return XCTFail("INCR of a string is an error reply")
    }
    XCTAssertTrue(message.hasPrefix("ERR"), message)
    // Binary-safe arguments and replies.
    let binary: [UInt8] = [0, 13, 10, 255, 36, 42]
    _ = run(pool, RedisCommand(arguments: [Array("SET".utf8), Array("bin".utf8), binary]))
    XCTAssertEqual(try run(pool, RedisCommand("GET", "bin")).get(), .bulk(binary))
    let statistics = pool.statisticsSnapshot()
    XCTAssertEqual(statistics.commands[.errorReply], 1)
    XCTAssertGreaterThanOrEqual(statistics.commands[.ok] ?? 0, 8)
    XCTAssertEqual(statistics.latencyBucketCounts.reduce(0, +), statistics.commands[.ok]! + 1)
  }

  /// Replies are built in each connection's arena and dropped whole after their callback: a
  /// reply larger than the arena's block, nested arrays with nils and integers, empty arrays and
  /// a nil array all read back exactly, one after another on the same connection (so each
  /// reset leaves the next reply intact).
  func testRepliesOfEveryShapeAndSizeReadBackExactlyFromTheArena() throws {
    let redis = try RedisServerProcess()
    // One connection per loop; every command below runs on loop 0's.
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2)
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    // 600 fields of 64-byte values: ~60 KB of reply, well past the 16 KiB block (and, with the
    // nodes, past one 64 KiB overflow chunk).
    var arguments = [Array("HSET".utf8), Array("big".utf8)]
    var expected: [[UInt8]] = []
    for index in 0..<600 {
      let field = Array("field-\(index)".utf8)
      let value = Array(String(repeating: String(index % 10), count: 64).utf8)
      arguments += [field, value]
      expected += [field, value]
    }
    // And one value larger than an overflow chunk (64 KiB) on its own.
    let huge = [Array("huge".utf8), [UInt8](repeating: UInt8(ascii: "h"), count: 200_000)]
    arguments += huge
    expected += huge
    XCTAssertEqual(try run(pool, RedisCommand(arguments: arguments)).get(), .integer(601))
    let nested = RedisCommand("EVAL", "return {1, {2, 'two', {}}, false, 'x'}", "0")
    for round in 0..<3 {
      guard case .array(let fields) = try run(pool, RedisCommand("HGETALL", "big")).get() else {
        return XCTFail("HGETALL is an array (round \(round))")
      }
      XCTAssertEqual(fields.count, 1202)
      let bytes = fields.compactMap { field -> [UInt8]? in
        guard case .bulk(let bytes) = field else { return nil }
        return bytes
      }
      XCTAssertEqual(Set(bytes), Set(expected), "round \(round)")
      XCTAssertEqual(
        try run(pool, nested).get(),
        .array([.integer(1), .array([.integer(2), .bulk(Array("two".utf8)), .array([])]), .null, .bulk([120])]))
      XCTAssertEqual(try run(pool, RedisCommand("HGETALL", "missing")).get(), .array([]))
      XCTAssertEqual(try run(pool, RedisCommand("BLPOP", "nothing", "0.01")).get(), .null)
      XCTAssertEqual(try run(pool, RedisCommand("PING")).get(), .status("PONG"))
    }
  }

  func testPoolOpensExactlyPoolSizeNamedConnectionsSpreadOverLoops() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)")
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 50 })
    XCTAssertEqual(pool.statisticsSnapshot().connectionsUpByLoop, [25, 25])
    let list = try redis.cli(["CLIENT", "LIST"])
    XCTAssertEqual(list.split(separator: "\n").filter { $0.contains("name=featureserver ") }.count, 50, list)
  }

  func testPipelinedRepliesGoToTheirCallersUnderConcurrency() throws {
    let redis = try RedisServerProcess()
    // 20 000 at once: above the default admission bound, which this test is not about.
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 4) { $0.maxInFlight = 40_000 }
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 4 })
    let perLoop = 10_000
    let mismatches = Collected<String>()
    let answered = Collected<Int>()
    let done = expectation(description: "all answered")
    done.expectedFulfillmentCount = 2
    for loop in group.loops {
      loop.execute {
        var remaining = perLoop
        let loopPool = pool.on(loop)
        for index in 0..<perLoop {
          let token = "\(loop.index)-\(index)"
          loopPool.send(RedisCommand("ECHO", token)) { result in
            if case .success(.bulk(let bytes)) = result, String(decoding: bytes, as: UTF8.self) == token {
            } else {
              mismatches.append("\(token): \(result)")
            }
            remaining -= 1
            if remaining == 0 {
              answered.append(perLoop)
              done.fulfill()
            }
          }
        }
      }
    }
    wait(for: [done], timeout: 30)
    XCTAssertEqual(mismatches.values.prefix(5).map { $0 }, [])
    XCTAssertEqual(answered.values, [perLoop, perLoop])
    XCTAssertEqual(pool.statisticsSnapshot().commandsInFlight, 0)
  }

  func testBatchCompletesOnceWithResultsInOrder() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2)
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    try redis.cli(["HSET", "fs:customer:1", "age", "41"])
    try redis.cli(["HSET", "fs:merchant:9", "mcc", "5411"])
    let loop = group.loops[0]
    let results = Collected<[RedisResult]>()
    let done = expectation(description: "batch")
    loop.execute {
      pool.on(loop).send(batch: [
        RedisCommand("HGETALL", "fs:customer:1"), RedisCommand("HGETALL", "fs:account:404"),
        RedisCommand("HGETALL", "fs:merchant:9"),
      ]) { batch in
        results.append(batch)
        done.fulfill()
      }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(results.count, 1)
    let batch = try XCTUnwrap(results.values.first)
    XCTAssertEqual(try batch[0].get(), .array([.bulk(Array("age".utf8)), .bulk(Array("41".utf8))]))
    XCTAssertEqual(try batch[1].get(), .array([]))
    XCTAssertEqual(try batch[2].get(), .array([.bulk(Array("mcc".utf8)), .bulk(Array("5411".utf8))]))
  }

  /// `send(paced:inFlight:)` keeps at most that many commands waiting for an answer, so Redis
  /// never holds more in its query buffer while it runs one (it would run them all before
  /// serving anyone else). CLIENT INFO's `qbuf` shows what else was buffered behind it.
  func testPacedSendKeepsAtMostTheLimitInFlight() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2)
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    let loop = group.loops[0]  // one connection of the two
    func queryBuffer(_ result: RedisResult) -> Int? {
      guard case .success(.bulk(let bytes)) = result else { return nil }
      let field = String(decoding: bytes, as: UTF8.self).split(separator: " ").first { $0.hasPrefix("qbuf=") }
      return field.flatMap { Int($0.dropFirst(5)) }
    }
    let commands = [
      RedisCommand("CLIENT", "INFO"), RedisCommand("PING"), RedisCommand("PING"), RedisCommand("CLIENT", "INFO"),
    ]
    let alone = commands[0].encoded.count
    let ping = commands[1].encoded.count
    func send(_ how: @escaping (RedisLoopPool, @escaping ([RedisResult]) -> Void) -> Void) throws -> [RedisResult] {
      let collected = Collected<[RedisResult]>()
      let done = expectation(description: "sent")
      loop.execute {
        how(pool.on(loop)) { results in
          collected.append(results)
          done.fulfill()
        }
      }
      wait(for: [done], timeout: 5)
      XCTAssertEqual(collected.count, 1)
      return try XCTUnwrap(collected.values.first)
    }

    let oneAtATime = try send { $0.send(paced: commands, inFlight: 1, completion: $1) }
    XCTAssertEqual(oneAtATime.count, 4)
    XCTAssertEqual(queryBuffer(oneAtATime[0]), alone)
    XCTAssertEqual(try oneAtATime[1].get(), .status("PONG"))
    XCTAssertEqual(try oneAtATime[2].get(), .status("PONG"))
    XCTAssertEqual(queryBuffer(oneAtATime[3]), alone)
    // Two in flight: the first finds exactly one command behind it.
    let twoAtATime = try send { $0.send(paced: commands, inFlight: 2, completion: $1) }
    XCTAssertEqual(queryBuffer(twoAtATime[0]), alone + ping)
    XCTAssertEqual(try twoAtATime[2].get(), .status("PONG"))
    XCTAssertNotNil(queryBuffer(twoAtATime[3]))
    // The same commands as one batch: the first finds all the others buffered behind it.
    let batch = try send { $0.send(batch: commands, completion: $1) }
    XCTAssertEqual(queryBuffer(batch[0]), alone * 2 + ping * 2)
    let empty = try send { $0.send(paced: [], inFlight: 1, completion: $1) }
    XCTAssertTrue(empty.isEmpty)

    // Without Redis every command fails (refused at once, inside `send`), once each, and the
    // completion still comes once.
    let down = try makePool("redis://127.0.0.1:\(try freeTCPPort())", size: 2)
    defer { closeAndWait(down) }
    for limit in [1, 3, 100] {
      let failed = Collected<[RedisResult]>()
      let answered = expectation(description: "down")
      loop.execute {
        down.on(loop).send(paced: commands, inFlight: limit) { results in
          failed.append(results)
          answered.fulfill()
        }
      }
      wait(for: [answered], timeout: 5)
      XCTAssertEqual(failed.count, 1)
      XCTAssertEqual(failed.values.first?.count, 4)
      XCTAssertTrue(failed.values.first?.allSatisfy { if case .failure = $0 { true } else { false } } ?? false)
    }
  }

  /// Commands sent in one loop iteration share a connection (up to `commandsPerWrite`), so they
  /// leave in one write and Redis reads them in one go; with 1 each takes its own connection.
  func testCommandsOfOneLoopIterationShareAWrite() throws {
    let redis = try RedisServerProcess()
    let idle = [Int](repeating: 0, count: 9)
    for (perWrite, expectedLoads) in [
      (16, [10] + idle + [0, 0]), (4, [4, 4, 2] + idle), (1, [Int](repeating: 1, count: 10) + [0, 0]),
    ] {
      // 24 connections over 2 loops: 12 on the loop that sends.
      let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 24) { $0.commandsPerWrite = perWrite }
      XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 24 })
      let readsBefore = try totalReadsProcessed(redis)
      let loop = group.loops[0]
      let loads = Collected<[Int]>()
      let replies = Collected<String>()
      let done = expectation(description: "10 replies")
      done.expectedFulfillmentCount = 10
      loop.execute {
        let loopPool = pool.on(loop)
        for index in 0..<10 {
          if index % 2 == 0 {
            loopPool.send(RedisCommand("ECHO", "v\(index)")) { result in
              if case .success(.bulk(let bytes)) = result { replies.append(String(decoding: bytes, as: UTF8.self)) }
              done.fulfill()
            }
          } else {
            loopPool.send(viewing: RedisCommand("ECHO", "v\(index)")) { result in
              if case .success(let view) = result, view.kind == .bulk {
                replies.append(String(decoding: view.bytes, as: UTF8.self))
              }
              done.fulfill()
            }
          }
        }
        loads.append(loopPool.connections.map(\.inFlight).sorted(by: >))
      }
      wait(for: [done], timeout: 5)
      XCTAssertEqual(loads.values, [expectedLoads], "commands per write \(perWrite)")
      XCTAssertEqual(Set(replies.values), Set((0..<10).map { "v\($0)" }))
      // Redis counts its socket reads: one write (plus the INFO below) against ten.
      let reads = try totalReadsProcessed(redis) - readsBefore
      if perWrite == 16 { XCTAssertLessThanOrEqual(reads, 3) }
      if perWrite == 1 { XCTAssertGreaterThanOrEqual(reads, 10) }
      closeAndWait(pool)
    }
  }

  func totalReadsProcessed(_ redis: RedisServerProcess) throws -> Int {
    let info = try redis.cli(["INFO", "stats"])
    let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("total_reads_processed:") }
    return Int(line?.split(separator: ":").last ?? "") ?? -1
  }

  /// The view API hands each batch reply to its own completion, in order, read in place.
  func testViewingBatchHandsEachReplyInOrder() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2)
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    try redis.cli(["HSET", "fs:customer:1", "age", "41"])
    let loop = group.loops[0]
    let seen = Collected<String>()
    let done = expectation(description: "batch")
    done.expectedFulfillmentCount = 3
    loop.execute {
      func describe(_ result: RedisReplyResult) -> String {
        switch result {
        case .success(let view) where view.kind == .array:
          return (0..<view.count).compactMap { view[$0].map { String(decoding: $0.bytes, as: UTF8.self) } }
            .joined(separator: ",")
        case .success(let view): return "\(view.kind) \(String(decoding: view.bytes, as: UTF8.self))"
        case .failure(let error): return "\(error)"
        }
      }
      pool.on(loop).send(viewingBatch: [
        RedisViewRequest(
          RedisCommand("HGETALL", "fs:customer:1")
        ) {
          seen.append("1:" + describe($0)); done.fulfill()
        },
        RedisViewRequest(
          RedisCommand("HGETALL", "fs:account:404")
        ) {
          seen.append("2:" + describe($0)); done.fulfill()
        },
        RedisViewRequest(
          RedisCommand("INCR", "fs:customer:1")
        ) {
          seen.append("3:" + describe($0)); done.fulfill()
        },
      ])
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(
      seen.values, ["1:age,41", "2:", "3:error WRONGTYPE Operation against a key holding the wrong kind of value"])
  }

  func testACLUserAuthenticatesAndAWrongPasswordNeverComesUp() throws {
    let redis = try RedisServerProcess(extraArguments: [
      "--user", "default", "off", "--user", "scorer", "on", ">s3cret", "~*", "&*", "+@all",
    ])
    let pool = try makePool("redis://scorer:s3cret@127.0.0.1:\(redis.port)/2", size: 4)
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 4 })
    XCTAssertEqual(try run(pool, RedisCommand("SET", "authed", "yes")).get(), .status("OK"))
    XCTAssertEqual(try redis.cli(["-n", "2", "GET", "authed"], user: "scorer", password: "s3cret"), "yes\n")
    closeAndWait(pool)

    let wrong = try makePool("redis://scorer:wrong@127.0.0.1:\(redis.port)", size: 4)
    defer { closeAndWait(wrong) }
    usleep(500_000)
    XCTAssertEqual(wrong.statisticsSnapshot().connectionsUp, 0)
    guard case .failure(.unavailable) = run(wrong, RedisCommand("PING")) else {
      return XCTFail("a pool that cannot authenticate must fail fast")
    }
  }

  func testUnixSocketWithDatabaseSelection() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("unix://\(redis.socketPath)?db=3", size: 2)
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    XCTAssertEqual(try run(pool, RedisCommand("SET", "via-socket", "1")).get(), .status("OK"))
    XCTAssertEqual(try redis.cli(["-n", "3", "GET", "via-socket"]), "1\n")
    XCTAssertEqual(try redis.cli(["-n", "0", "EXISTS", "via-socket"]), "0\n")
  }

  func testCommandTimeoutFailsOnlyThatCommandAndKeepsTheConnection() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2) { $0.commandTimeout = 0.2 }
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    let start = Date()
    let result = run(pool, RedisCommand("DEBUG", "SLEEP", "0.6"))
    let elapsed = Date().timeIntervalSince(start)
    XCTAssertEqual(result, .failure(.timeout))
    XCTAssertLessThan(elapsed, 0.5, "the timeout must come from our timer, not from Redis waking up")
    XCTAssertEqual(pool.statisticsSnapshot().commands[.timeout], 1)
    // The connection was not reset: its late reply is read and dropped, and it serves again.
    usleep(700_000)
    XCTAssertEqual(try run(pool, RedisCommand("PING")).get(), .status("PONG"))
    XCTAssertEqual(pool.statisticsSnapshot().reconnects, 0)
    XCTAssertEqual(pool.statisticsSnapshot().commands[.connectionLost] ?? 0, 0)
    XCTAssertEqual(pool.statisticsSnapshot().commandsInFlight, 0)
  }

  /// A frozen Redis costs one command timeout, not one per command: once a command timed out
  /// with no reply since, later commands fail at once, and the first late reply lifts that.
  func testCommandsFailFastWhileEveryConnectionIsStalled() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2) { $0.commandTimeout = 0.2 }
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    XCTAssertEqual(run(pool, RedisCommand("DEBUG", "SLEEP", "1")), .failure(.timeout))
    let start = Date()
    XCTAssertEqual(run(pool, RedisCommand("PING")), .failure(.unavailable))
    XCTAssertLessThan(Date().timeIntervalSince(start), 0.1, "a stalled loop must fail fast")
    XCTAssertNotNil(
      waitUntil(timeout: 3) { (try? run(pool, RedisCommand("PING")).get()) == .status("PONG") },
      "the late reply must lift the stall")
    XCTAssertEqual(pool.statisticsSnapshot().reconnects, 0)
  }

  func testAConnectionWithoutAnyReplyForTheStallTimeoutIsReset() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2) {
      $0.commandTimeout = 0.2
      $0.stallTimeout = 0.4
    }
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    XCTAssertEqual(run(pool, RedisCommand("DEBUG", "SLEEP", "1")), .failure(.timeout))
    // Stuck past the stall timeout: reset, and back by itself once Redis answers again.
    XCTAssertNotNil(
      waitUntil(timeout: 4) {
        pool.statisticsSnapshot().reconnects >= 1 && pool.statisticsSnapshot().connectionsUp == 2
      })
    XCTAssertEqual(try run(pool, RedisCommand("PING")).get(), .status("PONG"))
  }

  func testCommandsOverTheInFlightBoundFailAtOnceWithOverloaded() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)", size: 2) { $0.maxInFlight = 4 }
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 2 })
    // 2 loops: 2 commands in flight per loop. The third on loop 0 is refused, not queued.
    let loop = group.loops[0]
    let results = Collected<RedisResult>()
    let done = DispatchSemaphore(value: 0)
    loop.execute {
      let loopPool = pool.on(loop)
      for _ in 0..<3 {
        loopPool.send(RedisCommand("DEBUG", "SLEEP", "0.2")) { result in
          results.append(result)
          if results.count == 3 { done.signal() }
        }
      }
    }
    XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    let values = results.values
    XCTAssertEqual(values.first, .failure(.overloaded), "the refusal comes first: it does not wait for Redis")
    XCTAssertEqual(values.filter { $0 == .failure(.overloaded) }.count, 1)
    XCTAssertEqual(pool.statisticsSnapshot().commands[.rejected], 1)
  }

  func testClientKillOfPoolConnectionsReconnectsThemAll() throws {
    let redis = try RedisServerProcess()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)")
    defer { closeAndWait(pool) }
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 50 })
    let killed = try redis.cli(["CLIENT", "KILL", "TYPE", "normal"])
    XCTAssertGreaterThanOrEqual(Int(killed.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 50, killed)
    let back = waitUntil(timeout: 3) {
      pool.statisticsSnapshot().connectionsUp == 50
        && ((try? redis.cli(["CLIENT", "LIST"]))?.split(separator: "\n").filter { $0.contains("name=featureserver ") }
          .count == 50)
    }
    XCTAssertNotNil(back, "pool connections did not come back after CLIENT KILL")
    XCTAssertGreaterThanOrEqual(pool.statisticsSnapshot().reconnects, 50)
    XCTAssertEqual(try run(pool, RedisCommand("PING")).get(), .status("PONG"))
  }

  func testRedisKilledMidLoadFailsFastAndRecoversWithinTwoSeconds() throws {
    let redis = try RedisServerProcess()
    let descriptorsBefore = openFileDescriptorCount()
    let pool = try makePool("redis://127.0.0.1:\(redis.port)")
    XCTAssertNotNil(waitUntil(timeout: 5) { pool.statisticsSnapshot().connectionsUp == 50 })

    // Keep 200 commands in flight per loop, so some are pending at any moment.
    let failures = Collected<(RedisError, Double)>()
    let stop = Collected<Bool>()
    for loop in group.loops {
      loop.execute {
        func issue() {
          guard stop.count == 0 else { return }
          let sent = monotonicNanoseconds()
          pool.on(loop).send(RedisCommand("ECHO", "load")) { result in
            if case .failure(let error) = result {
              failures.append((error, Double(monotonicNanoseconds() - sent) / 1e9))
              loop.schedule(afterNanoseconds: 5_000_000) { issue() }
            } else {
              issue()
            }
          }
        }
        for _ in 0..<200 { issue() }
      }
    }
    usleep(300_000)
    let killedAt = Date()
    redis.kill(signal: SIGKILL)
    XCTAssertNotNil(waitUntil(timeout: 1) { failures.count > 0 }, "pending commands did not fail")
    XCTAssertLessThan(Date().timeIntervalSince(killedAt), 0.5)
    XCTAssertNotNil(waitUntil(timeout: 2) { pool.statisticsSnapshot().connectionsUp == 0 })
    XCTAssertTrue(failures.values.contains { if case .connectionLost = $0.0 { return true } else { return false } })

    // While Redis is down, new commands fail fast instead of queueing.
    let downStart = monotonicNanoseconds()
    guard case .failure(.unavailable) = run(pool, RedisCommand("PING")) else {
      return XCTFail("expected fail-fast while Redis is down")
    }
    XCTAssertLessThan(Double(monotonicNanoseconds() - downStart) / 1e9, 0.1)

    try redis.start()
    let recovery = waitUntil(timeout: 2) { pool.statisticsSnapshot().connectionsUp == 50 }
    XCTAssertNotNil(recovery, "not all 50 connections were back within 2 s of Redis returning")
    stop.append(true)
    XCTAssertEqual(try run(pool, RedisCommand("PING")).get(), .status("PONG"))
    usleep(200_000)
    closeAndWait(pool)
    XCTAssertNotNil(
      waitUntil(timeout: 2) { openFileDescriptorCount() == descriptorsBefore },
      "leaked descriptors: \(openFileDescriptorCount()) open, \(descriptorsBefore) before")
  }

  /// The one-key commands of the read path, built from a pre-encoded head (its name sent in
  /// capitals), are byte for byte the commands built from their arguments, with the same name,
  /// read-only flag and slot.
  func testOneKeyCommandsEncodeLikeCommandsBuiltFromArguments() {
    for (name, key) in [
      ("HGETALL", "fs:customer:42"), ("hvals", "fs:win:{customer:7}"), ("GET", ""), ("TYPE", "k\r\n"),
    ] {
      let fast = RedisCommand(RedisCommand.OneKeyHead(name), key: Array(key.utf8))
      let plain = RedisCommand(arguments: [Array(name.uppercased().utf8), Array(key.utf8)])
      XCTAssertEqual(fast.encoded, plain.encoded, name)
      XCTAssertEqual(fast.name, name.uppercased())
      XCTAssertEqual(fast.name, plain.name)
      XCTAssertEqual(fast.isReadOnly, plain.isReadOnly, name)
      XCTAssertEqual(fast.slot, plain.slot, name)
    }
    // Commands that know their key's place route by it: the same slot as found by parsing.
    let long = String(repeating: "x", count: 300) + "{tag}" + String(repeating: "y", count: 20_000)
    for key in ["fs:customer:42", "{customer:7}:a", "a{}b", long, ""] {
      let fields = RedisCommand.EncodedArguments([Array("f1".utf8), Array("{other}".utf8)])
      let withTail = RedisCommand("HMGET", key: Array(key.utf8), tail: fields)
      let plain = RedisCommand(arguments: [
        Array("HMGET".utf8), Array(key.utf8), Array("f1".utf8), Array("{other}".utf8),
      ])
      XCTAssertEqual(withTail.encoded, plain.encoded)
      XCTAssertEqual(withTail.slot, plain.slot, key)
      XCTAssertEqual(withTail.slot, ClusterSlot.of(Array(key.utf8)), key)
      let head = RedisCommand(RedisCommand.OneKeyHead("HVALS"), key: Array(key.utf8))
      XCTAssertEqual(head.slot, ClusterSlot.of(Array(key.utf8)), key)
    }
    XCTAssertEqual(
      RedisCommand("EVAL", head: [Array("return 1".utf8), Array("1".utf8), Array("{k}1".utf8)], tail: .init()).slot,
      ClusterSlot.of(Array("k".utf8)))
    XCTAssertEqual(
      String(decoding: RedisCommand(RedisCommand.OneKeyHead("HGETALL"), key: Array("k".utf8)).encoded, as: UTF8.self),
      "*2\r\n$7\r\nHGETALL\r\n$1\r\nk\r\n")
  }

  func testURLParsing() throws {
    var configuration = try RedisConfiguration(url: "redis://user:p%40ss@127.0.0.1:6380/4")
    XCTAssertEqual(configuration.endpoint, .tcp(host: "127.0.0.1", port: 6380))
    XCTAssertEqual(configuration.username, "user")
    XCTAssertEqual(configuration.password, "p@ss")
    XCTAssertEqual(configuration.database, 4)
    XCTAssertEqual(configuration.redactedURL, "redis://user:***@127.0.0.1:6380/4")
    configuration = try RedisConfiguration(url: "redis://:secret@localhost")
    XCTAssertEqual(configuration.endpoint, .tcp(host: "127.0.0.1", port: 6379))
    XCTAssertNil(configuration.username)
    XCTAssertEqual(configuration.password, "secret")
    configuration = try RedisConfiguration(url: "redis://[::1]:7000")
    XCTAssertEqual(configuration.endpoint, .tcp(host: "::1", port: 7000))
    configuration = try RedisConfiguration(url: "unix:///run/redis.sock?db=2")
    XCTAssertEqual(configuration.endpoint, .unix(path: "/run/redis.sock"))
    XCTAssertEqual(configuration.database, 2)
    for bad in [
      "http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x", "unix://relative",
      "redis://no-such-host.invalid",
    ] {
      XCTAssertThrowsError(try RedisConfiguration(url: bad), bad)
    }
    var tooSmall = try RedisConfiguration(url: "redis://127.0.0.1")
    tooSmall.poolSize = 1
    XCTAssertThrowsError(try RedisPool(configuration: tooSmall, group: group), "fewer connections than loops")
  }
}
