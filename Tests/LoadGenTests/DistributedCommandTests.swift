import Dispatch
import Foundation
import TestSupport
import XCTest

@testable import LoadGen

/// The `loadgen` binary in distributed mode: losses, refusals and the reports' formats.
final class DistributedCommandTests: XCTestCase {
  var binary: String { productsDirectory.appendingPathComponent("loadgen").path }

  /// A worker process; its log (standard error) goes to `log` when given.
  func worker(_ arguments: [String], log: URL? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["--worker", "--threads", "1"] + arguments
    process.standardOutput = FileHandle.nullDevice
    if let log {
      FileManager.default.createFile(atPath: log.path, contents: nil)
      process.standardError = try FileHandle(forWritingTo: log)
    } else {
      process.standardError = FileHandle.nullDevice
    }
    try process.run()
    return process
  }

  /// A master on `port` (loopback) with `arguments`, running in the background; wait on the
  /// group, then read its exit status and output.
  func startMaster(port: Int, workers: Int, _ arguments: [String]) -> (
    DispatchGroup, Collected<(status: Int32, output: String)>
  ) {
    let master = Collected<(status: Int32, output: String)>()
    let finished = DispatchGroup()
    let command =
      [
        "--master", "--expect-workers", "\(workers)", "--master-bind-host", "127.0.0.1", "--master-bind-port",
        "\(port)",
      ]
      + arguments
    DispatchQueue.global().async(group: finished) {
      if let result = try? runCommand(self.binary, command, timeout: 60) { master.append(result) }
    }
    return (finished, master)
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
    let (finished, master) = startMaster(
      port: port, workers: 3,
      [
        "--expect-workers-max-wait", "20", "--host", target.url, "-u", "6", "-r", "100", "-t", "4s",
        "--csv", prefix, "--threshold", "p99<10s",
      ])
    let logs = (0..<3).map {
      FileManager.default.temporaryDirectory.appendingPathComponent("worker-\(getpid())-\($0).log")
    }
    defer { for log in logs { try? FileManager.default.removeItem(at: log) } }
    let workers = try logs.map { try worker(["--master-port", "\(port)"], log: $0) }
    defer { for process in workers where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    // Kill one once the run is under way: after the master has started it (all three joined,
    // however slowly the processes came up), about halfway through the 4 s run.
    let running = waitUntil(timeout: 20) {
      ((try? String(contentsOf: logs[1], encoding: .utf8)) ?? "").contains("loadgen worker: running")
    }
    XCTAssertNotNil(running, "the master started the workers")
    usleep(1_500_000)
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
    let (finished, master) = startMaster(
      port: port, workers: 1,
      [
        "--expect-workers-max-wait", "4", "--host", "http://127.0.0.1:9", "-t", "1s",
      ])
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
    let (finished, master) = startMaster(
      port: port, workers: 2,
      [
        "--expect-workers-max-wait", "10", "--host", "http://127.0.0.1:9", "-t", "3s", "--max-frame-bytes", "65536",
      ])
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

  /// A worker does not run a share of the load its master could not have meant (a rate above
  /// what one process schedules, a negative run time): it says which and exits 2.
  /// The master here is a raw socket speaking the protocol.
  func testAWorkerRefusesAnImpossibleStartFromItsMaster() throws {
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("loadgen not built") }
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, length) == 0 && listen(listener, 4) == 0 && getsockname(listener, $0, &length) == 0
      }
    }
    XCTAssertTrue(bound)
    let port = Int(UInt16(bigEndian: address.sin_port))
    for (field, start) in [
      ("rate 1000000000000.0 is outside (0, 10000000.0]", startMessage(rate: 1e12, runTime: 1)),
      ("run time -5.0 is outside (0, 31622400.0]", startMessage(rate: nil, runTime: -5)),
    ] {
      let worker = Collected<(status: Int32, output: String)>()
      let finished = DispatchGroup()
      DispatchQueue.global().async(group: finished) {
        if let result = try? runCommand(self.binary, ["--worker", "--master-port", "\(port)"], timeout: 30) {
          worker.append(result)
        }
      }
      let client = accept(listener, nil, nil)
      XCTAssertGreaterThanOrEqual(client, 0)
      var header = [UInt8](repeating: 0, count: 4)
      XCTAssertEqual(read(client, &header, 4), 4, "the worker says hello first")
      let frame = FrameBuffer.frame(start.encoded())
      XCTAssertEqual(write(client, frame, frame.count), frame.count)
      XCTAssertEqual(finished.wait(timeout: .now() + 25), .success)
      close(client)
      let (status, output) = try XCTUnwrap(worker.values.first)
      XCTAssertEqual(status, 2, output)
      XCTAssertTrue(output.contains("cannot run the master's load: the start message's \(field)"), output)
    }
  }

  func startMessage(rate: Double?, runTime: Double) -> WireMessage {
    .start(
      .init(
        host: "http://127.0.0.1:9", scenario: .builtIn("fraud"), users: 1, spawnRate: 1, rate: rate, runTime: runTime,
        stopTimeout: 0, requestTimeout: 1, http2: false, streamsPerConnection: 1, firstUserID: 0, startDelay: 0))
  }
}
