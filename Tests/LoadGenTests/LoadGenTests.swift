import Foundation
import HTTPCore
import TestSupport
import XCTest

@testable import LoadGen

final class LoadGenTests: XCTestCase {
  func scenario(_ path: String, expect: Int? = 200) throws -> Scenario {
    try Scenario.parse(
      yaml: "name: t\nrequests:\n  - {path: \(path)\(expect.map { ", expect_status: \($0)" } ?? "")}\n")
  }

  func run(
    _ scenario: Scenario, port: Int, users: Int, seconds: Double, rate: Double? = nil, http2: Bool = false
  ) throws -> LoadResult {
    var options = LoadOptions(address: "127.0.0.1", port: port, hostHeader: "127.0.0.1:\(port)")
    options.http2 = http2
    options.streamsPerConnection = 4
    options.users = users
    options.spawnRate = 1000
    options.runTime = seconds
    options.rate = rate
    options.threads = 1
    options.stopTimeout = 2
    return try LoadRunner(scenario: scenario, options: options).run()
  }

  /// 2 % of requests held 40 ms: p50 stays fast, p99 and p99.9 land on 40 ms within
  /// HdrHistogram's precision plus the loopback round trip.
  func testPercentilesLandOnTheInjectedDelay() throws {
    let server = try LatencyServer(every: 50, delayMilliseconds: 40)
    defer { server.stop() }
    let result = try run(scenario("/sometimes"), port: server.port, users: 8, seconds: 3)
    let total = result.statistics.total
    XCTAssertGreaterThan(total.requests, 2000)
    XCTAssertEqual(total.failures, 0)
    XCTAssertLessThan(total.medianMilliseconds, 5, "98 % are answered at once")
    // p99 is the middle of the held 2 %: 40 ms plus a loopback round trip. p99.9 is their slow
    // tail. The delay is large and the upper bounds loose because a shared 2-core VM stalls for
    // 10-20 ms at a time when its host is busy (BENCHMARKS.md, steal time): p97 once measured
    // 5.1 ms on CI against an earlier bound of 5 ms with a 20 ms delay.
    let p99 = total.milliseconds(atPercentile: 99)
    XCTAssertGreaterThanOrEqual(p99, 40 * 0.999)
    XCTAssertLessThan(p99, 50)
    let p999 = total.milliseconds(atPercentile: 99.9)
    XCTAssertGreaterThanOrEqual(p999, 40 * 0.999)
    XCTAssertLessThan(p999, 80)
    XCTAssertLessThan(total.milliseconds(atPercentile: 97), 20, "only the held 2 % are slow")
    // Every second had a point; each second's p99 also sees the delay.
    XCTAssertGreaterThanOrEqual(result.history.count, 2)
    XCTAssertGreaterThanOrEqual(result.history[1].intervalP99, 39.9)
  }

  /// `--http2`: 8 users share 2 connections (4 streams each), closed and open loop; every
  /// request travels as an HTTP/2 stream and the statistics are the same kind.
  func testHTTP2RunsUsersAsStreamsOnSharedConnections() throws {
    let server = try LatencyServer(every: 50, delayMilliseconds: 40)
    defer { server.stop() }
    let closed = try run(scenario("/sometimes"), port: server.port, users: 8, seconds: 2, http2: true)
    XCTAssertGreaterThan(closed.statistics.total.requests, 1000)
    XCTAssertEqual(closed.statistics.total.failures, 0)
    XCTAssertGreaterThanOrEqual(closed.statistics.total.milliseconds(atPercentile: 99.5), 40 * 0.999)
    let open = try run(scenario("/fast"), port: server.port, users: 8, seconds: 2, rate: 500, http2: true)
    XCTAssertGreaterThanOrEqual(open.statistics.total.requests, 900)
    XCTAssertEqual(open.statistics.total.failures, 0)
    XCTAssertEqual(server.server.statistics.requests(.http1), 0, "every request went over HTTP/2")
    XCTAssertGreaterThan(server.server.statistics.requests(.http2), 1900)
  }

  /// Recorded values come back within HdrHistogram's 3 significant digits, in milliseconds with
  /// fractions (not Locust's whole milliseconds).
  func testStatisticsKeepMicrosecondResolution() {
    var statistics = RequestStatistics(method: "GET", name: "/x")
    for _ in 0..<980 { statistics.record(microseconds: 412, contentBytes: 10, failed: false) }
    for _ in 0..<20 { statistics.record(microseconds: 20_000, contentBytes: 10, failed: true) }
    XCTAssertEqual(statistics.medianMilliseconds, 0.412, accuracy: 0.412 * 0.001)
    XCTAssertEqual(statistics.milliseconds(atPercentile: 98), 0.412, accuracy: 0.001)
    XCTAssertEqual(statistics.milliseconds(atPercentile: 99), 20, accuracy: 20 * 0.001)
    XCTAssertEqual(statistics.milliseconds(atPercentile: 99.9), 20, accuracy: 20 * 0.001)
    XCTAssertEqual(statistics.maxMilliseconds, 20, accuracy: 20 * 0.001)
    XCTAssertEqual(statistics.averageMilliseconds, (980 * 0.412 + 20 * 20) / 1000, accuracy: 1e-9)
    XCTAssertEqual(statistics.failureRatio, 0.02)
  }

  /// The server stalls for 1 s. Closed loop, 4 users: only the 4 requests caught in the stall
  /// are slow, so p99 hides it. Open loop at 1000/s: every request scheduled during the stall
  /// waits, and p99 shows it.
  func testOpenLoopShowsTheStallThatClosedLoopHides() throws {
    let closedServer = try LatencyServer(stallAfter: 1)
    let closed = try run(scenario("/stall"), port: closedServer.port, users: 4, seconds: 3.5)
    closedServer.stop()
    let openServer = try LatencyServer(stallAfter: 1)
    let open = try run(scenario("/stall"), port: openServer.port, users: 4, seconds: 3.5, rate: 1000)
    openServer.stop()

    XCTAssertGreaterThanOrEqual(closed.statistics.total.maxMilliseconds, 950, "the stall happened")
    XCTAssertLessThan(closed.statistics.total.milliseconds(atPercentile: 99), 50, "closed loop hides it")
    XCTAssertGreaterThan(open.statistics.total.milliseconds(atPercentile: 99), 500, "open loop shows it")
    XCTAssertGreaterThan(open.statistics.total.milliseconds(atPercentile: 90), 100)
    XCTAssertEqual(
      open.statistics.total.requests, open.statistics.scheduled, accuracy: 5, "every scheduled request counts")
    XCTAssertEqual(Double(open.statistics.scheduled), 3500, accuracy: 200, "a constant arrival rate")
  }

  /// Open loop past what the server can take: requests still queued at the end count as
  /// failures with the time they waited, so an overload is not hidden.
  func testOpenLoopCountsRequestsStillQueuedAtTheEnd() throws {
    let server = try LatencyServer(every: 1, delayMilliseconds: 200)  // every answer takes 200 ms
    defer { server.stop() }
    let result = try run(scenario("/sometimes"), port: server.port, users: 1, seconds: 1, rate: 200)
    let statistics = result.statistics
    XCTAssertEqual(Double(statistics.scheduled), 200, accuracy: 20)
    XCTAssertEqual(statistics.total.requests, statistics.scheduled, accuracy: 2)
    let queued = statistics.failures.first { $0.key.error.hasPrefix("not sent") }?.value.occurrences ?? 0
    XCTAssertGreaterThan(queued, 150, "one connection answers 5 per second; the rest waited")
    XCTAssertGreaterThan(statistics.total.milliseconds(atPercentile: 50), 300)
  }

  /// Statuses and connection errors become failures by kind.
  func testFailuresAreClassified() throws {
    let server = try LatencyServer()
    defer { server.stop() }
    let result = try run(
      Scenario.parse(
        yaml: """
          requests:
            - {path: /missing, name: wrong, expect_status: 200}
            - {path: /missing, name: any}
            - {path: /fast, name: ok}
          """), port: server.port, users: 2, seconds: 1)
    let errors = Set(result.statistics.failures.keys.map { "\($0.name): \($0.error)" })
    XCTAssertEqual(errors, ["wrong: unexpected status 404 (expected 200)", "any: HTTP 404"])
    XCTAssertEqual(result.statistics.entry(matching: "ok")?.failures, 0)
    XCTAssertEqual(result.statistics.entry(matching: "GET wrong")?.failureRatio, 1)

    let nowhere = try run(scenario("/fast"), port: try freeTCPPort(), users: 2, seconds: 1)
    XCTAssertTrue(nowhere.connectFailuresOnly)
    XCTAssertTrue(nowhere.statistics.failures.keys.allSatisfy { $0.error.hasPrefix("connect:") })
  }

  /// Our CSV headers are Locust 2.47's, byte for byte (CRLF included); Locust tooling reads them.
  func testCSVHeadersEqualLocustsByteForByte() throws {
    let server = try LatencyServer()
    defer { server.stop() }
    let result = try run(scenario("/fast"), port: server.port, users: 2, seconds: 1.5)
    let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-\(getpid())").path
    try CSVReport.write(result, prefix: prefix)
    let fixtures = packageRoot.appendingPathComponent("Tests/LoadGenTests/Fixtures")
    for file in ["stats", "stats_history", "failures", "exceptions"] {
      let expected = try Data(contentsOf: fixtures.appendingPathComponent("locust-2.47.0_\(file).header"))
      let written = try Data(contentsOf: URL(fileURLWithPath: "\(prefix)_\(file).csv"))
      XCTAssertEqual(written.prefix(expected.count), expected, file)
      try? FileManager.default.removeItem(atPath: "\(prefix)_\(file).csv")
    }
    // The final stats file agrees with the summary: the same request count.
    let summary = result.statistics.total
    let html = HTMLReport.render(result, thresholds: [])
    XCTAssertTrue(html.contains("<svg") && html.contains("\(summary.requests)"))
    XCTAssertFalse(html.contains("<script") || html.contains("src=\"http"), "self-contained")
  }

  func testThresholdsParseAndEvaluate() throws {
    let server = try LatencyServer()
    defer { server.stop() }
    let result = try run(scenario("/fast"), port: server.port, users: 2, seconds: 1)
    func check(_ text: String) throws -> Bool { try Threshold(parsing: text).evaluate(result).passed }
    XCTAssertTrue(try check("p99<1s"))
    XCTAssertTrue(try check("p99.9 <= 1000ms"))
    XCTAssertFalse(try check("p50<1us"))
    XCTAssertTrue(try check("error_rate<1%"))
    XCTAssertTrue(try check("rps>10"))
    XCTAssertTrue(try check("GET /fast:avg<500ms"))
    XCTAssertTrue(try check("/fast:max<1s"))
    let missing = try Threshold(parsing: "GET /nope:p99<5ms").evaluate(result)
    XCTAssertFalse(missing.passed)
    XCTAssertTrue(missing.verdict.contains("no requests named 'GET /nope'"))
    XCTAssertEqual(try Threshold(parsing: "GET /features/:entity/:id:p99<5ms").name, "GET /features/:entity/:id")
    for bad in ["p99", "p0<1ms", "p101<1ms", "latency<5ms", "error_rate<5ms", "p99<5%"] {
      XCTAssertThrowsError(try Threshold(parsing: bad), bad)
    }
  }

  func testScenarioFilesAreCheckedWithReasons() throws {
    let cases: [(String, String)] = [
      ("requests: []", "'requests' must be a list"),
      ("requests:\n  - {path: x}", "'path' must be a string starting with '/'"),
      ("requests:\n  - {path: '/a/{id}'}", "unknown variable {id}"),
      ("wait_time: {between: [2, 1]}\nrequests:\n  - {path: /a}", "wait_time between"),
      ("variables:\n  id: {int: [5, 1]}\nrequests:\n  - {path: /a}", "variable 'id': int needs"),
      ("requests:\n  - {path: /a, method: FETCH}", "unsupported method 'FETCH'"),
      ("request:\n  - {path: /a}", "unknown key 'request'"),
      // Header injection: a value (or a choice it can take) with CR/LF would split the request.
      ("requests:\n  - {path: /a, headers: {X-A: \"b\\r\\nX-Injected: 1\"}}", "header 'X-A' can contain the byte 0xd"),
      (
        "variables:\n  v: {choice: [ok, \"x\\ny\"]}\nrequests:\n  - {path: /a, headers: {X-A: \"{v}\"}}",
        "header 'X-A' can contain the byte 0xa"
      ),
      ("requests:\n  - {path: /a, headers: {\"X A\": b}}", "header name 'X A' is not a valid HTTP field name"),
      ("requests:\n  - {path: /a, headers: {Content-Length: 5}}", "header 'Content-Length' is set by loadgen"),
      ("requests:\n  - {path: \"/a b\"}", "'path' can contain the byte 0x20"),
      // Ranges whose width or scaled values would not fit Int64.
      (
        "variables:\n  id: {int: [-9223372036854775808, 9223372036854775807]}\nrequests:\n  - {path: '/a/{id}'}",
        "variable 'id': int bounds must be within ±2305843009213693952"
      ),
      (
        "variables:\n  x: {decimal: [0, 1e300]}\nrequests:\n  - {path: '/a/{x}'}",
        "variable 'x': decimal bounds must be within ±1e9"
      ),
    ]
    for (yaml, expected) in cases {
      XCTAssertThrowsError(try Scenario.parse(yaml: yaml), yaml) { error in
        XCTAssertTrue("\(error)".contains(expected), "\(yaml): \(error)")
      }
    }
    // A constant throughput so low that its interval saturates instead of trapping.
    var random = FastRandom(seed: 1)
    XCTAssertEqual(
      WaitTime.constantThroughput(1e-300).nanoseconds(after: 5, random: &random), 9_199_999_999_999_999_995)
    let fraud = Scenario.fraud
    XCTAssertEqual(fraud.tasks.map(\.weight).reduce(0, +), 100)
    XCTAssertEqual(fraud.tasks.filter { $0.method == "POST" }.map(\.weight).reduce(0, +), 30)
  }

  /// Rendered requests are what the templates say, and ids stay in range (with the hot set).
  func testTemplatesRender() throws {
    let scenario = try Scenario.parse(
      yaml: """
        variables:
          id: {int: [1, 100], hot: [0.9, 0.1]}
          amount: {decimal: [1, 2], decimals: 2}
        requests:
          - {path: '/x/{id}', body: '{{"a":{amount},"n":{counter}}}'}
        """)
    var random = FastRandom(seed: 1)
    var hot = 0
    for _ in 0..<1000 {
      var output: [UInt8] = []
      scenario.tasks[0].path.render(
        into: &output, generators: scenario.generators, random: &random, user: 3, counter: 7)
      let id = Int(String(decoding: output, as: UTF8.self).dropFirst(3)) ?? 0
      XCTAssertTrue((1...100).contains(id))
      if id <= 11 { hot += 1 }
    }
    XCTAssertGreaterThan(hot, 850, "90 % of draws come from the hot tenth")
    var body: [UInt8] = []
    scenario.tasks[0].body?.render(into: &body, generators: scenario.generators, random: &random, user: 3, counter: 7)
    let text = String(decoding: body, as: UTF8.self)
    XCTAssertTrue(text.hasPrefix("{\"a\":1.") && text.hasSuffix(",\"n\":7}"), text)
  }
}

/// The `loadgen` binary's exit codes.
final class LoadGenCommandTests: XCTestCase {
  func testExitCodes() throws {
    let binary = productsDirectory.appendingPathComponent("loadgen").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("loadgen not built") }
    let server = try LatencyServer()
    defer { server.stop() }
    let scenarioFile = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(getpid()).yaml")
    try "requests:\n  - {path: /fast, expect_status: 200}\n".write(to: scenarioFile, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: scenarioFile) }
    let base = [
      "--host", "http://127.0.0.1:\(server.port)", "--scenario", scenarioFile.path, "-u", "2", "-t", "1s", "--threads",
      "1",
    ]

    let pass = try runCommand(binary, base + ["--threshold", "p99<1s", "--threshold", "error_rate<1%"])
    XCTAssertEqual(pass.status, 0, pass.output)
    XCTAssertTrue(pass.output.contains("PASS p99<1s: "), pass.output)
    XCTAssertTrue(pass.output.contains("Aggregated"))

    let fail = try runCommand(binary, base + ["--threshold", "p50<1us"])
    XCTAssertEqual(fail.status, 1, fail.output)
    XCTAssertTrue(fail.output.contains("FAIL p50<1us: "), fail.output)

    let json = try runCommand(binary, base + ["--json", "--threshold", "rps>1"])
    XCTAssertEqual(json.status, 0, json.output)
    let summary = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
    XCTAssertEqual((summary?["thresholds"] as? [[String: Any]])?.first?["passed"] as? Bool, true)

    let unreachable = try runCommand(
      binary, ["--host", "http://127.0.0.1:\(try freeTCPPort())", "-u", "1", "-t", "1s", "--threads", "1"])
    XCTAssertEqual(unreachable.status, 2, unreachable.output)
    XCTAssertTrue(unreachable.output.contains("cannot reach"), unreachable.output)

    let notANumber = try runCommand(binary, base + ["--rate", "nan"])
    XCTAssertEqual(notANumber.status, 2, notANumber.output)
    XCTAssertTrue(
      notANumber.output.contains("--rate must be more than 0 and at most 10000000 per load-generating process"),
      notANumber.output)
    // Every flag from a LOADGEN_ variable, as Locust's LOCUST_ ones; the command line wins.
    let fromEnvironment = try runCommand(
      binary, ["--scenario", scenarioFile.path, "-t", "1s", "--threshold", "p50<1us"],
      environment: [
        "LOADGEN_HOST": "http://127.0.0.1:\(server.port)", "LOADGEN_USERS": "3", "LOADGEN_THREADS": "1",
        "LOADGEN_RUN_TIME": "1h", "LOADGEN_THRESHOLD": "p99<1s", "LOADGEN_JSON": "true", "LOADGEN_QUIET": "no",
        "LOADGEN_UNKNOWN_FLAG": "ignored", "LOADGEN_HELP": "1",
      ])
    XCTAssertEqual(fromEnvironment.status, 1, fromEnvironment.output)  // --threshold from the command line
    let environmentSummary =
      try JSONSerialization.jsonObject(
        with: Data(fromEnvironment.output.utf8.drop { $0 != UInt8(ascii: "{") })) as? [String: Any]
    XCTAssertEqual((environmentSummary?["thresholds"] as? [[String: Any]])?.count, 1, fromEnvironment.output)
    XCTAssertEqual(
      (environmentSummary?["thresholds"] as? [[String: Any]])?.first?["threshold"] as? String, "p50<1us",
      fromEnvironment.output)
    let badVariable = try runCommand(binary, base, environment: ["LOADGEN_SPAWN_RATE": "fast"])
    XCTAssertEqual(badVariable.status, 2, badVariable.output)
    XCTAssertTrue(badVariable.output.contains("--spawn-rate"), badVariable.output)

    for usage in [
      base + ["--threshold", "p99"], base + ["-t", "soon"], ["--host", "ftp://x", "-t", "1s"],
      base + ["--scenario", "/nonexistent.yaml"], base + ["--rate", "1e12"], base + ["-u", "2000000"],
    ] {
      let result = try runCommand(binary, usage)
      XCTAssertEqual(result.status, 2, "\(usage): \(result.output)")
    }
  }
}
