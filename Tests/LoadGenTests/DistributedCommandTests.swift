import Dispatch
import Foundation
import TestSupport
import XCTest

@testable import LoadGen

/// The `loadgen` binary in distributed mode: losses, refusals and the reports' formats.
final class DistributedCommandTests: XCTestCase {
  var binary: String { productsDirectory.appendingPathComponent("loadgen").path }

  func worker(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["--worker", "--threads", "1"] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// A worker killed with SIGKILL mid-run is named in the report as lost, the run goes on to
  /// its end with the others, the exit code says it is incomplete, and the CSVs keep Locust's
  /// columns.
  func testAWorkerKilledMidRunIsReportedAndTheRunFinishes() throws {
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("loadgen not built") }
    let target = try FeatureServerTarget()
    defer { target.stop() }
    let port = try freeTCPPort()
    let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("distributed-\(getpid())").path
    let master = Collected<(status: Int32, output: String)>()
    let finished = DispatchGroup()
    DispatchQueue.global().async(group: finished) {
      let result = try? runCommand(
        self.binary,
        [
          "--master", "--expect-workers", "3", "--master-bind-host", "127.0.0.1", "--master-bind-port", "\(port)",
          "--expect-workers-max-wait", "20", "--host", target.url, "-u", "6", "-r", "100", "-t", "4s",
          "--csv", prefix, "--threshold", "p99<10s",
        ], timeout: 60)
      if let result { master.append(result) }
    }
    let workers = try (0..<3).map { _ in try worker(["--master-port", "\(port)"]) }
    defer { for process in workers where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    // Kill one once the run is under way (the master starts them together after all joined).
    usleep(2_000_000)
    let victim = workers[1].processIdentifier
    kill(victim, SIGKILL)
    let started = Date()
    XCTAssertEqual(finished.wait(timeout: .now() + 40), .success)
    XCTAssertLessThan(Date().timeIntervalSince(started), 15, "the run ends on time, not at a timeout")
    let (status, output) = try XCTUnwrap(master.values.first)
    XCTAssertEqual(status, 3, output)
    XCTAssertTrue(output.contains("Workers (3)"), output)
    XCTAssertTrue(output.contains(":\(victim) at 127.0.0.1:"), output)
    let lostLine = output.split(separator: "\n").first { $0.contains(":\(victim) at") } ?? ""
    XCTAssertTrue(lostLine.contains("lost after"), String(lostLine))
    let workerLines = output.split(separator: "\n").filter {
      $0.contains(" at 127.0.0.1:") && $0.contains(" threads, ")
    }
    XCTAssertEqual(workerLines.count, 3, output)
    XCTAssertEqual(workerLines.filter { $0.hasSuffix("finished") }.count, 2, output)
    XCTAssertTrue(output.contains("the run is incomplete"), output)
    XCTAssertTrue(output.contains("PASS p99<10s"), output)
    for process in workers where process.processIdentifier != victim {
      process.waitUntilExit()
      XCTAssertEqual(process.terminationStatus, 0)
    }
    let fixtures = packageRoot.appendingPathComponent("Tests/LoadGenTests/Fixtures")
    for file in ["stats", "stats_history", "failures", "exceptions"] {
      let expected = try Data(contentsOf: fixtures.appendingPathComponent("locust-2.47.0_\(file).header"))
      let written = try Data(contentsOf: URL(fileURLWithPath: "\(prefix)_\(file).csv"))
      XCTAssertEqual(written.prefix(expected.count), expected, file)
      try? FileManager.default.removeItem(atPath: "\(prefix)_\(file).csv")
    }
  }

  /// A worker of another version (here a raw client saying so) or with another scenario is
  /// refused at join with a message that says why; a master whose workers never join gives up
  /// after --expect-workers-max-wait and says how many came.
  func testMismatchedWorkersAreRefusedWithAReason() throws {
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("loadgen not built") }
    let port = try freeTCPPort()
    let master = Collected<(status: Int32, output: String)>()
    let finished = DispatchGroup()
    DispatchQueue.global().async(group: finished) {
      let result = try? runCommand(
        self.binary,
        [
          "--master", "--expect-workers", "1", "--master-bind-host", "127.0.0.1", "--master-bind-port", "\(port)",
          "--expect-workers-max-wait", "4", "--host", "http://127.0.0.1:9", "-t", "1s",
        ], timeout: 30)
      if let result { master.append(result) }
    }
    var connection: RawConnection? = nil
    _ = waitUntil(timeout: 10) {
      connection = try? RawConnection(port: port)
      return connection != nil
    }
    let raw = try XCTUnwrap(connection)
    let hello = WireMessage.hello(
      .init(protocolVersion: 1, version: "0.0.1", name: "old:1", threads: 1, scenarioFingerprint: nil))
    raw.send(FrameBuffer.frame(hello.encoded()))
    let (answer, closed) = raw.readUntilClose()
    XCTAssertTrue(closed, "the master closes after refusing")
    XCTAssertTrue(answer.contains("version mismatch"), answer)
    XCTAssertTrue(answer.contains("the worker old:1"), answer)
    XCTAssertTrue(answer.contains("is loadgen 0.0.1"), answer)

    let scenario = FileManager.default.temporaryDirectory.appendingPathComponent("other-\(getpid()).yaml")
    try "requests:\n  - {path: /other}\n".write(to: scenario, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: scenario) }
    let refused = try runCommand(
      binary, ["--worker", "--master-port", "\(port)", "--scenario", scenario.path, "--threads", "1"], timeout: 20)
    XCTAssertEqual(refused.status, 2, refused.output)
    XCTAssertTrue(refused.output.contains("refused by the master: scenario mismatch"), refused.output)

    XCTAssertEqual(finished.wait(timeout: .now() + 20), .success)
    let (status, output) = try XCTUnwrap(master.values.first)
    XCTAssertEqual(status, 2, output)
    XCTAssertTrue(output.contains("only 0 of 1 workers joined within 4.0 s"), output)
  }

  /// Workers that send what no worker could (statistics that do not add up, a frame longer than
  /// the bound) are dropped as lost with the reason, and the master ends the run instead of
  /// merging them or buffering the frame.
  func testHostileWorkersAreDroppedWithTheReason() throws {
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("loadgen not built") }
    let port = try freeTCPPort()
    let master = Collected<(status: Int32, output: String)>()
    let finished = DispatchGroup()
    DispatchQueue.global().async(group: finished) {
      let result = try? runCommand(
        self.binary,
        [
          "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", "\(port)",
          "--expect-workers-max-wait", "10", "--host", "http://127.0.0.1:9", "-t", "3s", "--max-frame-bytes", "65536",
        ], timeout: 30)
      if let result { master.append(result) }
    }
    var clients: [RawConnection] = []
    for index in 0..<2 {
      var connection: RawConnection? = nil
      _ = waitUntil(timeout: 10) {
        connection = try? RawConnection(port: port, receiveTimeout: 10)
        return connection != nil
      }
      let client = try XCTUnwrap(connection)
      let hello = WireMessage.hello(
        .init(
          protocolVersion: distributedProtocolVersion, version: loadgenVersion, name: "hostile:\(index)", threads: 1,
          scenarioFingerprint: nil))
      client.send(FrameBuffer.frame(hello.encoded()))
      clients.append(client)
    }
    // Both are admitted and sent the start; then one lies about its counts and one announces
    // a frame of 1 GiB.
    var statistics = RequestStatistics(method: "GET", name: "/x")
    statistics.record(microseconds: 100, contentBytes: 1, failed: false)
    var wire = WireLoadStatistics(LoadStatistics())
    var entry = WireRequestStatistics(statistics)
    entry.requests = 1_000_000
    wire.entries = [entry]
    let report = WireMessage.report(
      .init(second: 1, timestamp: 1, users: 1, statistics: wire, isFinal: false, duration: nil))
    usleep(300_000)
    clients[0].send(FrameBuffer.frame(report.encoded()))
    clients[1].send([0x40, 0, 0, 0])
    XCTAssertEqual(finished.wait(timeout: .now() + 25), .success)
    let (status, output) = try XCTUnwrap(master.values.first)
    XCTAssertEqual(status, 3, output)
    XCTAssertTrue(output.contains("sent a report that is not valid statistics"), output)
    XCTAssertTrue(output.contains("sent a frame of 1073741824 bytes, more than the bound of 65536"), output)
    XCTAssertTrue(output.contains("0 requests"), "nothing of the lies was merged: \(output)")
  }
}
