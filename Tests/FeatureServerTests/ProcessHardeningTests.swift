import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// The hardening that only the real process shows: its own Redis, its port, its connections.
final class ProcessHardeningTests: XCTestCase {
  /// Loads a few customers into `redis` for /predict and /features.
  func seed(_ redis: RedisServerProcess) throws {
    let now = Int(Date().timeIntervalSince1970)
    for id in 1...50 {
      try redis.cli(["HSET", "fs:customer:\(id)", "age", "40", "avg_txn_amount_30d", "50", "_ts", "\(now)"])
    }
  }

  func testItsOwnRedisIsPrivateAndDemandsAPassword() throws {
    guard which("redis-server") != nil else { throw XCTSkip("redis-server not installed") }
    let server = try ServerProcess(arguments: ["--threads", "1", "--model", "none"])
    let log = server.log
    guard let range = log.range(of: #"redis=unix://"#),
      let end = log[range.upperBound...].firstIndex(where: { $0 == " " || $0 == "\n" })
    else { return XCTFail("no socket path in the log: \(log)") }
    let socket = String(log[range.upperBound..<end])
    let directory = (socket as NSString).deletingLastPathComponent
    XCTAssertFalse(directory.hasSuffix("featureserver-redis-\(server.pid)"), "a predictable directory: \(directory)")
    var status = stat()
    XCTAssertEqual(lstat(directory, &status), 0)
    XCTAssertEqual(status.st_mode & 0o777, 0o700, "the directory must be private")
    XCTAssertEqual(status.st_uid, getuid())
    // Without the password, the server's Redis answers nothing but an error.
    let (_, anonymous) = try runCommand("/usr/bin/redis-cli", ["-s", socket, "GET", "fs:customer:42"], timeout: 10)
    XCTAssertTrue(anonymous.contains("NOAUTH"), anonymous)
    // The password is not on any command line (ps shows those to every user).
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(entry) != nil {
      let cmdline = (try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)) ?? ""
      XCTAssertFalse(cmdline.contains("requirepass"), "a command line shows the password: \(cmdline)")
    }
    XCTAssertTrue(server.request("GET /features/customer/42 HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
    XCTAssertEqual(server.stop(), 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: directory), "the private directory was not removed")
  }

  func testASecondServerOnTheSamePortFailsUnlessSharingIsAsked() throws {
    let redis = try RedisServerProcess()
    let url = "redis://127.0.0.1:\(redis.port)"
    let first = try ServerProcess(arguments: ["--threads", "2", "--model", "none", "--redis-url", url])
    defer { first.stop() }
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    let (status, output) = try runCommand(
      binary,
      [
        "serve", "--bind", "127.0.0.1", "--port", "\(first.port)", "--threads", "1", "--model", "none",
        "--redis-url", url,
      ], timeout: 20)
    XCTAssertNotEqual(status, 0, "a second server must not start on a port in use: \(output)")
    XCTAssertTrue(output.contains("already listens on this port"), output)
    // Asked for on both sides, sharing works (a zero-downtime restart).
    let sharing = try ServerProcess(arguments: [
      "--threads", "1", "--model", "none", "--redis-url", url, "--share-port",
    ])
    defer { sharing.stop() }
    let joining = try ServerProcess(
      arguments: ["--threads", "1", "--model", "none", "--redis-url", url, "--share-port"], port: sharing.port)
    defer { joining.stop() }
    XCTAssertTrue(joining.process.isRunning)
  }

  func testHalfClosedPipelinesGetEveryAnswerFromTheRealBinary() throws {
    let redis = try RedisServerProcess()
    let server = try ServerProcess(arguments: [
      "--threads", "1", "--model", "none", "--redis-url", "redis://127.0.0.1:\(redis.port)",
    ])
    defer { server.stop() }
    for _ in 0..<3 {
      let connection = try RawConnection(port: server.port, receiveTimeout: 10)
      connection.send(String(repeating: "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", count: 150))
      shutdown(connection.fd, Int32(SHUT_WR))
      let (text, closed) = connection.readUntilClose()
      XCTAssertEqual(RawConnection.split(text).count, 150)
      XCTAssertTrue(closed)
    }
  }

  /// 20 clients that pipeline and read slowly connect at once; a request on another connection
  /// of the same (only) loop is still answered within one round of a few requests per reader
  /// (at least 50 ms), not after their 400 each.
  func testSlowPipeliningReadersDoNotStallTheLoop() throws {
    let redis = try RedisServerProcess()
    try seed(redis)
    let server = try ServerProcess(arguments: [
      "--threads", "1", "--model", "none", "--redis-url", "redis://127.0.0.1:\(redis.port)",
    ])
    defer { server.stop() }
    let burst = String(repeating: "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", count: 400)
    // What one /metrics costs on this build (the debug build renders it ~10x slower than the
    // release one): a fair loop answers the probe after each reader's pass share, a few requests
    // each; one that served a reader's pipeline to its end would take 400 of them per reader.
    var single = Double.infinity
    for _ in 0..<5 {
      let start = Date()
      XCTAssertTrue(server.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
      single = min(single, Date().timeIntervalSince(start))
    }
    let bound = max(0.05, 20 * 4 * single)
    var latencies: [Double] = []
    for _ in 0..<3 {
      let probe = try RawConnection(port: server.port)
      var readers: [RawConnection] = []
      for _ in 0..<20 { readers.append(try RawConnection(port: server.port, receiveTimeout: 0.01)) }
      for reader in readers { reader.send(burst) }
      let start = Date()
      probe.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
      XCTAssertEqual(probe.readResponses(1).count, 1)
      latencies.append(Date().timeIntervalSince(start))
      for reader in readers { _ = reader.readUntilClose() }  // they read a little, now and then
      readers.removeAll()
      usleep(300_000)
    }
    XCTAssertLessThan(
      latencies.min() ?? 1, bound, "probe latencies (s): \(latencies); one /metrics alone: \(single) s")
    XCTAssertTrue(server.request("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
  }

  func testAModelTooDeepOrTooLargeIsRefusedWithItsLimit() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    let model = packageRoot.appendingPathComponent("models/fraud_xgb.json").path
    let (status, output) = try runCommand(binary, ["serve", "--model", model, "--model-max-depth", "3"], timeout: 20)
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("deeper than 3 levels"), output)
    let (nodesStatus, nodesOutput) = try runCommand(
      binary, ["serve", "--model", model, "--model-max-nodes", "100"], timeout: 20)
    XCTAssertNotEqual(nodesStatus, 0)
    XCTAssertTrue(nodesOutput.contains("more than 100 nodes"), nodesOutput)
  }
}
