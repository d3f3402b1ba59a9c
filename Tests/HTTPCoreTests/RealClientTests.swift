import Foundation
import Reactor
import TestSupport
import XCTest

@testable import HTTPCore

/// Real clients on the wire: curl, Python's http.client, wrk (with pipelining), and the real
/// server binary under SIGTERM.
final class RealClientTests: XCTestCase {
  var server: TestServer!

  override func setUpWithError() throws {
    server = try TestServer()
  }

  override func tearDown() {
    server.stop()
  }

  func tool(_ name: String) throws -> String {
    guard let path = which(name) else {
      throw XCTSkip("\(name) is not installed (.ci/run installs it)")
    }
    return path
  }

  func testCurl() throws {
    let curl = try tool("curl")
    let base = "http://127.0.0.1:\(server.port)"
    var result = try runCommand(curl, ["-sS", "\(base)/hello/w%C3%B6rld"])
    XCTAssertEqual(result.status, 0)
    XCTAssertEqual(result.output, "hello wörld")

    // Large body: curl sends Expect: 100-continue and waits for our 100.
    let body = String(repeating: "0123456789", count: 20_000)
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("curl-body-\(getpid())")
    try body.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    result = try runCommand(
      curl, ["-sS", "-H", "Expect: 100-continue", "--data-binary", "@\(file.path)", "\(base)/echo"])
    XCTAssertEqual(result.status, 0)
    XCTAssertEqual(result.output.count, body.count)

    // Chunked upload.
    result = try runCommand(curl, ["-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "abc", "\(base)/echo"])
    XCTAssertEqual(result.output, "abc")

    // Several URLs on one connection (keep-alive), and the status/headers of a 405.
    result = try runCommand(
      curl,
      ["-sS", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ", "\(base)/hello/a", "\(base)/hello/b"])
    XCTAssertEqual(result.output, "1 0 ")
    result = try runCommand(curl, ["-sS", "-i", "-X", "PUT", "\(base)/hello/a"])
    XCTAssertTrue(result.output.hasPrefix("HTTP/1.1 405"), result.output)
    XCTAssertTrue(result.output.contains("Allow: GET, HEAD"), result.output)
  }

  func testPythonHTTPClient() throws {
    let python = try tool("python3")
    let script = packageRoot.appendingPathComponent("Tests/wire/http_client_test.py").path
    let result = try runCommand(python, [script, "\(server.port)"])
    XCTAssertEqual(result.status, 0, result.output)
    XCTAssertTrue(result.output.contains("OK"), result.output)
  }

  func testWrkKeepAliveAndPipelinedLoadHasNoErrors() throws {
    let wrk = try tool("wrk")
    let url = "http://127.0.0.1:\(server.port)/hello/load"
    var result = try runCommand(wrk, ["-t1", "-c20", "-d2s", url])
    XCTAssertEqual(result.status, 0, result.output)
    XCTAssertFalse(result.output.contains("Socket errors"), result.output)
    XCTAssertFalse(result.output.contains("Non-2xx"), result.output)
    XCTAssertTrue(result.output.contains("requests in"), result.output)

    let script = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(getpid()).lua")
    try """
    init = function(args)
      local r = {}
      for i = 1, 16 do r[i] = wrk.format("GET", "/hello/p" .. i) end
      req = table.concat(r)
    end
    request = function() return req end
    """.write(to: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: script) }
    result = try runCommand(wrk, ["-t1", "-c10", "-d2s", "-s", script.path, url])
    XCTAssertEqual(result.status, 0, result.output)
    XCTAssertFalse(result.output.contains("Socket errors"), result.output)
    XCTAssertFalse(result.output.contains("Non-2xx"), result.output)
  }

  func testOurClientPipelinesAndTimesOut() throws {
    let loop = server.group.loops[0]
    let done = expectation(description: "client finished")
    let port = server.port
    let outcome = LockedStrings()
    loop.execute {
      HTTPClientConnection.connect(loop: loop, host: "127.0.0.1", port: port) { result in
        guard case .success(let connection) = result else {
          outcome.append("connect failed")
          done.fulfill()
          return
        }
        var answered = 0
        for index in 0..<50 {
          connection.send(HTTPClientRequest(target: "/hello/\(index)")) { result in
            if case .success(let response) = result, response.status == 200, response.text == "hello \(index)" {
              answered += 1
            } else {
              outcome.append("request \(index) wrong: \(result)")
            }
            if index == 49 {
              outcome.append("answered \(answered)")
              connection.send(HTTPClientRequest(target: "/delay/2000"), timeout: 0.2) { result in
                if case .failure(.timeout) = result { outcome.append("timed out") }
                XCTAssertFalse(connection.isOpen)
                done.fulfill()
              }
            }
          }
        }
        XCTAssertEqual(connection.inFlight, 50)
      }
    }
    wait(for: [done], timeout: 10)
    XCTAssertEqual(outcome.values, ["answered 50", "timed out"])
  }

  /// Bytes a server sends when no request is outstanding are refused, not buffered for ever.
  func testOurClientClosesOnUnsolicitedBytes() throws {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
        _ = bind(listener, pointer, length)
        _ = Glibc.listen(listener, 1)
        return getsockname(listener, pointer, &length)
      }
    }
    let port = Int(UInt16(bigEndian: address.sin_port))
    DispatchQueue.global().async {
      let peer = accept(listener, nil, nil)
      guard peer >= 0 else { return }
      let flood = Array(String(repeating: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", count: 2000).utf8)
      _ = flood.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      usleep(500_000)
      close(peer)
    }
    let loop = server.group.loops[0]
    let done = expectation(description: "closed")
    let state = LockedStrings()
    loop.execute {
      HTTPClientConnection.connect(loop: loop, host: "127.0.0.1", port: port) { result in
        guard case .success(let connection) = result else { return XCTFail("connect failed") }
        loop.schedule(afterNanoseconds: 200_000_000) {
          state.append(connection.isOpen ? "open" : "closed")
          done.fulfill()
        }
      }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(state.values, ["closed"])
  }

  func testOurClientReportsARefusedConnect() throws {
    let loop = server.group.loops[0]
    let done = expectation(description: "connect failed")
    loop.execute {
      // Port 1 on loopback: nothing listens there.
      HTTPClientConnection.connect(loop: loop, host: "127.0.0.1", port: 1) { result in
        if case .failure(.connectFailed(let error)) = result {
          XCTAssertEqual(error.code, ECONNREFUSED)
        } else {
          XCTFail("expected connectFailed, got \(result)")
        }
        done.fulfill()
      }
    }
    wait(for: [done], timeout: 5)
  }

  func testSIGTERMDrainsTheRealBinaryAndExitsZero() throws {
    let binary = productsDirectory.appendingPathComponent("http-bench-server").path
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw XCTSkip("http-bench-server not built at \(binary)")
    }
    let port = try freeTCPPort()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["--port", "\(port)", "--threads", "2"]
    process.standardError = FileHandle.nullDevice
    try process.run()
    var connection: RawConnection? = nil
    for _ in 0..<100 where connection == nil {
      connection = try? RawConnection(port: port)
      if connection == nil { usleep(50_000) }
    }
    let busy = try XCTUnwrap(connection)
    // Long enough that the request is surely in flight when SIGTERM comes, even on a loaded
    // machine where the server reads it late (it has no way to say so from outside).
    busy.send("GET /delay/1500 HTTP/1.1\r\nHost: a\r\n\r\n")
    usleep(500_000)
    kill(process.processIdentifier, SIGTERM)
    let (text, closed) = busy.readUntilClose()
    XCTAssertTrue(text.hasSuffix("waited 1500 ms"), text)
    XCTAssertTrue(closed)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertEqual(process.terminationReason, .exit)
  }
}

final class LockedStrings: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [String] = []
  func append(_ value: String) { lock.withLock { storage.append(value) } }
  var values: [String] { lock.withLock { storage } }
}
