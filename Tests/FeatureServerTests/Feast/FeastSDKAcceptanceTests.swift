import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// The real Feast SDK (0.67, in the shared test venv) and the real `feast serve` against
/// featureserver on one Feast repository: `feast apply`, `feast materialize` into a real
/// redis-server, then the SDK's remote online store pointed at featureserver must read what the
/// SDK reads from Redis itself and write what it reads back, and `feast serve` must answer 100
/// requests exactly as featureserver does (Tests/feast/*.py hold the checks).
final class FeastSDKAcceptanceTests: XCTestCase {
  func testTheFeastSDKAndFeastServeAgreeWithFeatureserverOnARealRepository() throws {
    let venv = try FeastTestEnvironment.venv()
    let redis = try RedisServerProcess()
    let repository = FileManager.default.temporaryDirectory.appendingPathComponent("feast-acceptance-\(getpid())")
    try? FileManager.default.removeItem(at: repository)
    defer { try? FileManager.default.removeItem(at: repository) }
    let python = "\(venv)/bin/python"
    let feast = "\(venv)/bin/feast"
    try FeastTestEnvironment.check(
      python, [script("fixture_repo.py"), repository.path, "127.0.0.1:\(redis.port)"], timeout: 120)
    try FeastTestEnvironment.check(feast, ["-c", repository.path, "apply"], timeout: 180)
    try FeastTestEnvironment.check(
      feast, ["-c", repository.path, "materialize", "2026-01-01T00:00:00", "2026-12-01T00:00:00"], timeout: 180)

    // No --redis-url: the repository's connection_string names the Redis.
    let server = try ServerProcess(arguments: ["--feast-repo", repository.path, "--threads", "2"])
    defer { server.stop() }
    XCTAssertTrue(server.log.contains(#"msg="serving Feast's API""#), server.log)
    try FeastTestEnvironment.check(
      python, [script("sdk_acceptance.py"), repository.path, "http://127.0.0.1:\(server.port)"], timeout: 300)

    let feastServe = try FeastServeProcess(feast: feast, repository: repository.path)
    defer { feastServe.stop() }
    try FeastTestEnvironment.check(
      python,
      [
        script("compare_servers.py"), "http://127.0.0.1:\(feastServe.port)", "http://127.0.0.1:\(server.port)",
        "--random", "78",
      ], timeout: 300)

    let metrics = server.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    XCTAssertTrue(metrics.contains(#"featureserver_feast_entity_rows_total{result="found"}"#), metrics)
    XCTAssertTrue(metrics.contains(#"route="/get-online-features""#), metrics)
    XCTAssertEqual(server.stop(), 0)
  }

  private func script(_ name: String) -> String {
    packageRoot.appendingPathComponent("Tests/feast/\(name)").path
  }
}

/// The shared Python environment and helpers of the Feast tests.
enum FeastTestEnvironment {
  /// The venv scripts/test-venv.sh keeps (created on first use; about a minute).
  static func venv() throws -> String {
    let result = try runCommand(
      "/bin/bash", [packageRoot.appendingPathComponent("scripts/test-venv.sh").path], timeout: 900)
    guard result.status == 0, let path = result.output.split(separator: "\n").last.map(String.init),
      FileManager.default.isExecutableFile(atPath: "\(path)/bin/feast")
    else {
      throw ServerProcessError("scripts/test-venv.sh failed (the Feast tests need the Feast SDK): \(result.output)")
    }
    return path
  }

  /// Runs a command and fails the test with its output unless it exits 0.
  static func check(_ executable: String, _ arguments: [String], timeout: Double) throws {
    let result = try runCommand(executable, arguments, timeout: timeout)
    if result.status != 0 {
      XCTFail(
        "\(([executable] + arguments).joined(separator: " ")) exited \(result.status):\n\(result.output.suffix(6000))")
      throw ServerProcessError("\(executable) failed")
    }
  }
}

/// `feast serve` on a free port, stopped by PID.
final class FeastServeProcess {
  let port: Int
  private let process = Process()

  init(feast: String, repository: String) throws {
    port = try freeTCPPort()
    process.executableURL = URL(fileURLWithPath: feast)
    process.arguments = ["-c", repository, "serve", "-h", "127.0.0.1", "-p", "\(port)", "--no-access-log"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(90)
    while Date() < deadline {
      guard process.isRunning else { throw ServerProcessError("feast serve exited at start") }
      if let connection = try? RawConnection(port: port, receiveTimeout: 2) {
        connection.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        if connection.readResponses(1).first?.hasPrefix("HTTP/1.1 200") ?? false { return }
      }
      usleep(200_000)
    }
    stop()
    throw ServerProcessError("feast serve did not answer /health within 90 s")
  }

  func stop() {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGTERM)
    let deadline = Date().addingTimeInterval(10)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  deinit { stop() }
}
