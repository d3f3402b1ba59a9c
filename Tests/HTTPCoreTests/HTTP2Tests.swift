import Foundation
import Reactor
import TestSupport
import XCTest

@testable import HTTPCore

/// HTTP/2 on the HTTP/1.1 port, with real clients: curl (prior knowledge and Upgrade), nghttp,
/// h2load, and Python's h2 for the attacks.
final class HTTP2Tests: XCTestCase {
  func tool(_ name: String) throws -> String {
    guard let path = which(name) else { throw XCTSkip("\(name) is not installed (scripts/setup.sh installs it)") }
    return path
  }

  /// Status line, the headers handlers set, and the body, as curl shows them.
  func exchange(_ curl: String, _ arguments: [String]) throws -> (status: String, headers: [String], body: String) {
    let (code, output) = try runCommand(curl, ["-s", "-i"] + arguments, timeout: 20)
    XCTAssertEqual(code, 0, output)
    var text = output
    // An upgrade shows the 101 head first.
    if text.hasPrefix("HTTP/1.1 101"), let end = text.range(of: "\r\n\r\n") { text = String(text[end.upperBound...]) }
    guard let end = text.range(of: "\r\n\r\n") else { return ("", [], "") }
    let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
    let status = lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? ""
    let headers = lines.dropFirst().map { $0.lowercased() }.filter {
      !$0.hasPrefix("date:") && !$0.hasPrefix("connection:") && !$0.hasPrefix("keep-alive:")
    }.sorted()
    return (status, headers, String(text[end.upperBound...]))
  }

  func testCurlGetsTheSameAnswersOverHTTP2AsOverHTTP1() throws {
    let curl = try tool("curl")
    let server = try TestServer()
    defer { server.stop() }
    let base = "http://127.0.0.1:\(server.port)"
    let cases: [[String]] = [
      ["\(base)/hello/w%C3%B6rld"], ["\(base)/query?a=1&b=x+y"], ["\(base)/nope"], ["-X", "POST", "\(base)/hello/x"],
      ["-X", "POST", "--data-binary", String(repeating: "body ", count: 5000), "\(base)/echo"],
      ["\(base)/big/300000"], ["-I", "\(base)/hello/head"], ["\(base)/delay/20"],
    ]
    for arguments in cases {
      let http1 = try exchange(curl, ["--http1.1"] + arguments)
      let prior = try exchange(curl, ["--http2-prior-knowledge"] + arguments)
      let upgraded = try exchange(curl, ["--http2"] + arguments)
      XCTAssertFalse(http1.status.isEmpty, "\(arguments)")
      for (name, other) in [("prior knowledge", prior), ("upgrade", upgraded)] {
        XCTAssertEqual(other.status, http1.status, "\(name) \(arguments)")
        XCTAssertEqual(other.headers, http1.headers, "\(name) \(arguments)")
        XCTAssertEqual(other.body, http1.body, "\(name) \(arguments): bodies differ")
      }
    }
    XCTAssertGreaterThan(server.server.statistics.requests(.http2), 0)
  }

  func testNghttpSeesOurSettingsAndAnAnswer() throws {
    let nghttp = try tool("nghttp")
    let server = try TestServer(threads: 1)
    defer { server.stop() }
    let (code, output) = try runCommand(nghttp, ["-nv", "http://127.0.0.1:\(server.port)/hello/n"], timeout: 10)
    XCTAssertEqual(code, 0, output)
    XCTAssertTrue(output.contains("[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]"), output)
    XCTAssertTrue(output.contains("(stream_id=13) :status: 200") || output.contains(":status: 200"), output)
  }

  func testH2loadMultiplexedLoadHasNoErrors() throws {
    let h2load = try tool("h2load")
    let server = try TestServer(threads: 1)
    defer { server.stop() }
    let (code, output) = try runCommand(
      h2load, ["-n", "100000", "-c", "10", "-m", "10", "http://127.0.0.1:\(server.port)/hello/load"], timeout: 120)
    XCTAssertEqual(code, 0, output)
    XCTAssertTrue(
      output.contains("requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed"), output)
  }

  func testHTTP1StillServedOnTheSamePort() throws {
    let server = try TestServer(threads: 1)
    defer { server.stop() }
    // "PRI" could start the preface; "PRIX" cannot, and is an (unknown) HTTP/1.1 method.
    let connection = try RawConnection(port: server.port)
    connection.send("PRIX /hello/a HTTP/1.1\r\nHost: a\r\n\r\n")
    XCTAssertTrue(connection.readResponses(1).first?.hasPrefix("HTTP/1.1 405") ?? false)
  }

  /// Each attack ends its own connection (or is refused and bounded) and costs no one else their
  /// answers; memory stays bounded across all of them.
  func testAbuseIsBoundedAndNeverCostsAnotherConnection() throws {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python),
      (try? runCommand(python, ["-c", "import h2"]))?.status == 0
    else { throw XCTSkip("Debian's python3-h2 is not installed (scripts/setup.sh installs it)") }
    let server = try TestServer(threads: 1) {
      $0.sendTimeout = 2
      $0.limits.maxBodyBytes = 100_000
    }
    defer { server.stop() }
    let script = packageRoot.appendingPathComponent("Tests/wire/h2_attacks.py").path
    let before = residentBytes()
    func attack(_ name: String) throws -> [String: Any] {
      let (code, output) = try runCommand(python, [script, "\(server.port)", name], timeout: 60)
      XCTAssertEqual(code, 0, "\(name): \(output)")
      let line = output.split(separator: "\n").last.map(String.init) ?? ""
      let result = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
      XCTAssertEqual(result["normal_request_after"] as? Bool, true, "\(name): \(output)")
      return result
    }
    let bomb = try attack("hpack-bomb")
    XCTAssertEqual(bomb["goaway"] as? Int, 11, "HPACK bomb: GOAWAY(ENHANCE_YOUR_CALM): \(bomb)")
    let resets = try attack("rapid-reset")
    XCTAssertNotNil(resets["goaway"] as? Int, "rapid reset: GOAWAY: \(resets)")
    XCTAssertEqual(resets["closed"] as? Bool, true)
    let continuation = try attack("continuation-flood")
    XCTAssertEqual(continuation["goaway"] as? Int, 11, "\(continuation)")
    for flood in ["settings-flood", "ping-flood"] {
      let result = try attack(flood)
      XCTAssertEqual(result["closed"] as? Bool, true, "\(flood): a client that never reads is cut off: \(result)")
    }
    let window = try attack("window-zero")
    XCTAssertEqual(window["closed"] as? Bool, true, "a window-0 reader is closed by the send timeout: \(window)")
    let body = try attack("oversized-body")
    XCTAssertEqual(body["status"] as? String, "413", "\(body)")
    XCTAssertEqual(body["same_connection_serves"] as? Bool, true, "\(body)")
    let streams = try attack("too-many-streams")
    XCTAssertEqual(streams["answered"] as? Int, 100, "\(streams)")
    XCTAssertEqual(streams["refused"] as? Int, 50, "\(streams)")
    XCTAssertLessThan(residentBytes() - before, 64 * 1024 * 1024, "memory grew with the attacks")
    XCTAssertEqual(server.server.bufferedOutputBytes, 0)
    XCTAssertEqual(server.server.bufferedBodyBytes, 0)
    XCTAssertGreaterThan(server.server.statistics.count(.http2GoawayEnhanceYourCalm), 0)
  }

  func testGracefulShutdownSendsGoawayAndFinishesStreamsInFlight() throws {
    let nghttp = try tool("nghttp")
    let server = try TestServer(threads: 1)
    let output = Collected<String>()
    let finished = DispatchSemaphore(value: 0)
    let port = server.port
    DispatchQueue.global().async {
      output.append(
        (try? runCommand(nghttp, ["-nv", "http://127.0.0.1:\(port)/delay/500"], timeout: 20))?.output ?? "")
      finished.signal()
    }
    // Shut down once the request is in flight (not after a fixed pause: under load nghttp may
    // not even have connected by then, and a server already gone refuses it).
    XCTAssertNotNil(
      waitUntil(timeout: 10) { server.server.statistics.requests(.http2) > 0 }, "nghttp's request arrived")
    let drained = DispatchSemaphore(value: 0)
    server.server.shutdown { drained.signal() }
    XCTAssertEqual(finished.wait(timeout: .now() + 20), .success)
    XCTAssertEqual(drained.wait(timeout: .now() + 5), .success)
    server.group.stop()
    server.group.wait()
    let trace = output.values.first ?? ""
    // nghttp's stream 13 (it opens 1-11 as priority groups): named in the GOAWAY, then answered.
    XCTAssertTrue(trace.contains("recv GOAWAY frame"), trace)
    XCTAssertTrue(trace.contains("last_stream_id=13"), trace)
    XCTAssertTrue(trace.contains("(stream_id=13) :status: 200"), trace)
    XCTAssertTrue(trace.contains("error_code=NO_ERROR"), trace)
  }

  private func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
  }
}
