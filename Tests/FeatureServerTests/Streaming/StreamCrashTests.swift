import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// No loss, no double count: a server killed with SIGKILL in the middle of ingesting 200 000
/// events and restarted ends with exactly the window state of a run that never stopped.
final class StreamCrashTests: XCTestCase {
  func testAServerKilledMidIngestAndRestartedEndsWithTheWindowsOfACleanRun() throws {
    let count = 200_000
    let now = Date().timeIntervalSince1970
    let commands = Self.xadds(count: count, customers: 10_000, now: now)
    let crashed = try RedisServerProcess()
    let clean = try RedisServerProcess()
    for redis in [crashed, clean] { try Self.send(commands, count: count, to: redis) }

    // The clean run.
    let cleanServer = try server(clean)
    XCTAssertNotNil(waitUntil(timeout: 300) { Self.drained(clean) }, cleanServer.log.suffix(2000).description)
    cleanServer.stop()

    // The crashed run: SIGKILL once a part is stored, then the same consumer finishes.
    let first = try server(crashed)
    XCTAssertNotNil(waitUntil(timeout: 120) { streamCount(first, "featureserver_stream_events_total") >= count / 4 })
    kill(first.pid, SIGKILL)
    first.process.waitUntilExit()
    let pendingAtCrash = try crashed.cli(["XPENDING", "fs:events", "featureserver"])
    let second = try server(crashed)
    defer { second.stop() }
    XCTAssertNotNil(waitUntil(timeout: 300) { Self.drained(crashed) }, second.log.suffix(2000).description)

    let cleanDigest = try Self.digest(clean)
    let crashedDigest = try Self.digest(crashed)
    XCTAssertTrue(cleanDigest.hasPrefix("10000 "), cleanDigest)  // every customer has events
    XCTAssertEqual(crashedDigest, cleanDigest, "pending at the crash: \(pendingAtCrash)")
    XCTAssertEqual(
      try crashed.cli(["GET", "fs:watermark:fs:events:featureserver"]),
      try clean.cli(["GET", "fs:watermark:fs:events:featureserver"]))
  }

  private func server(_ redis: RedisServerProcess) throws -> ServerProcess {
    try ServerProcess(arguments: [
      "--redis-url", "redis://127.0.0.1:\(redis.port)", "--stream", "fs:events", "--stream-consumer", "crash-test",
      "--threads", "1", "--stream-batch-size", "1000",
    ])
  }

  /// Every entry delivered and acknowledged.
  private static func drained(_ redis: RedisServerProcess) -> Bool {
    guard let info = try? redis.cli(["XINFO", "GROUPS", "fs:events"]) else { return false }
    let lines = info.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    func value(after name: String) -> String? {
      lines.firstIndex(of: name).flatMap { $0 + 1 < lines.count ? lines[$0 + 1] : nil }
    }
    return value(after: "pending") == "0" && value(after: "lag") == "0"
  }

  /// The number of events hashes and one SHA-1 over all of them (keys and fields sorted):
  /// equal digests are equal window state at any time.
  private static func digest(_ redis: RedisServerProcess) throws -> String {
    let script = """
      local keys = {}
      local cursor = '0'
      repeat
        local reply = redis.call('SCAN', cursor, 'MATCH', 'fs:win:*', 'COUNT', 1000)
        cursor = reply[1]
        for _, key in ipairs(reply[2]) do
          if string.sub(key, -2) ~= ':t' then keys[#keys + 1] = key end
        end
      until cursor == '0'
      table.sort(keys)
      local digest = ''
      for _, key in ipairs(keys) do
        local flat = redis.call('HGETALL', key)
        local pairs = {}
        for i = 1, #flat, 2 do pairs[#pairs + 1] = flat[i] .. '=' .. flat[i + 1] end
        table.sort(pairs)
        digest = redis.sha1hex(digest .. key .. table.concat(pairs, ';'))
      end
      return #keys .. ' ' .. digest
      """
    return try redis.cli(["EVAL", script, "0"]).trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// XADD commands (RESP) for `count` events over the last 30 minutes, a few seconds out of
  /// order, some minutes late.
  static func xadds(count: Int, customers: Int, now: Double) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count * 140)
    for index in 0..<count {
      var time = now - 1800 + 1790 * Double(index) / Double(count) + Double.random(in: -5...1, using: &generator)
      if index % 50 == 49 { time -= Double.random(in: 100...400, using: &generator) }
      let amount = (Double.random(in: 1...900, using: &generator) * 100).rounded() / 100
      let arguments = [
        "XADD", "fs:events", "*", "transaction_id", "c\(index)", "customer_id",
        "\(Int.random(in: 1...customers, using: &generator))", "amount", "\(amount)", "event_timestamp",
        String(format: "%.3f", min(time, now - 1)),
      ]
      bytes += Array("*\(arguments.count)\r\n".utf8)
      for argument in arguments { bytes += Array("$\(argument.utf8.count)\r\n\(argument)\r\n".utf8) }
    }
    return bytes
  }

  /// Sends pipelined XADDs and waits until the stream holds them all.
  static func send(_ commands: [UInt8], count: Int, to redis: RedisServerProcess) throws {
    func length() -> Int? {
      (try? redis.cli(["XLEN", "fs:events"])).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    let before = length() ?? 0
    let connection = try RawConnection(port: redis.port)
    connection.send(commands)
    XCTAssertNotNil(waitUntil(timeout: 120) { length() == before + count }, "XLEN \(length() ?? -1)")
    withExtendedLifetime(connection) {}
  }
}
