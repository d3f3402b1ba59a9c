import Foundation
import TestSupport
import XCTest

@testable import HTTPCore

/// The server on the wire, through exact bytes: framing, limits, abuse, ordering, timeouts.
final class ServerWireTests: XCTestCase {
  var server: TestServer!

  override func setUpWithError() throws {
    server = try TestServer()
  }

  override func tearDown() {
    server.stop()
  }

  func statusLine(_ response: String) -> String {
    String(response.prefix { $0 != "\r" })
  }

  /// Sends `request`, expects `status`, `Connection: close`, and the server closing.
  func assertRefused(_ request: String, _ status: Int, file: StaticString = #filePath, line: UInt = #line) throws {
    let connection = try RawConnection(port: server.port)
    connection.send(request)
    let (text, closed) = connection.readUntilClose()
    XCTAssertTrue(
      text.hasPrefix("HTTP/1.1 \(status) "), "got: \(statusLine(text)) for \(request.debugDescription)", file: file,
      line: line)
    XCTAssertTrue(text.contains("Connection: close\r\n"), "no Connection: close", file: file, line: line)
    XCTAssertTrue(text.contains("\"error\""), "error body missing", file: file, line: line)
    XCTAssertTrue(closed, "server did not close after \(status)", file: file, line: line)
  }

  func testMalformedRequestsGetTheirStatusAndAClose() throws {
    try assertRefused(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400)
    try assertRefused("GET /hello/x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", 400)
    try assertRefused("GET /hello/x HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", 400)
    try assertRefused("GET /hello/x HTTP/1.1\r\nHost : a\r\n\r\n", 400)
    try assertRefused("GET /hello/x HTTP/1.1\r\n\r\n", 400)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501)
    try assertRefused("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
    try assertRefused("GET /hello/x HTTP/2.0\r\nHost: a\r\n\r\n", 505)
    try assertRefused("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414)
    try assertRefused("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "b", count: 17000) + "\r\n\r\n", 431)
    try assertRefused("GET / HTTP/1.1\r\nHost: a\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", 413)
    try assertRefused("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400)
  }

  func testBadPercentEncodingIs400ButKeepsAWellFramedConnection() throws {
    let connection = try RawConnection(port: server.port)
    connection.send("GET /hello/%zz HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/ok HTTP/1.1\r\nHost: a\r\n\r\n")
    let responses = connection.readResponses(2)
    XCTAssertTrue(responses[0].hasPrefix("HTTP/1.1 400 "))
    XCTAssertTrue(responses[0].contains("percent-encoding"))
    XCTAssertTrue(responses[1].hasSuffix("hello ok"))
  }

  func testChunkedBodyLargerThanTheLimitIs413() throws {
    let chunk = String(repeating: "x", count: 65536)
    let request =
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      + String(repeating: "10000\r\n\(chunk)\r\n", count: 17) + "0\r\n\r\n"
    try assertRefused(request, 413)
  }

  func testRefusesRequestSmugglingAttempt() throws {
    // A front end using Content-Length would see one request; one using chunked, two. We must
    // answer neither way: 400, close, and never run the hidden request.
    let connection = try RawConnection(port: server.port)
    connection.send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    let (text, closed) = connection.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "))
    XCTAssertFalse(text.contains("smuggled"))
    XCTAssertEqual(RawConnection.split(text).count, 1)
    XCTAssertTrue(closed)
  }

  func testPipelinedResponsesComeBackInRequestOrder() throws {
    let connection = try RawConnection(port: server.port)
    // The first answers 100 ms later than the others, from a timer.
    connection.send(
      "GET /delay/100 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/two HTTP/1.1\r\nHost: a\r\n\r\n"
        + "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nthreeGET /from-another-thread HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    let responses = connection.readResponses(4)
    XCTAssertEqual(responses.count, 4)
    XCTAssertTrue(responses[0].hasSuffix("waited 100"))
    XCTAssertTrue(responses[1].hasSuffix("hello two"))
    XCTAssertTrue(responses[2].hasSuffix("three"))
    XCTAssertTrue(responses[3].hasSuffix("hopped"))
  }

  /// A keep-alive connection reuses the previous request's header Strings when a field's line is
  /// unchanged: whatever changes (a value of the same length, a name, the order, the count, a
  /// field too long to be remembered), the handler sees exactly this request's fields.
  func testHeaderFieldsAreThisRequestsOnAKeepAliveConnection() throws {
    let connection = try RawConnection(port: server.port)
    let long = String(repeating: "v", count: 300)
    let requests: [[(String, String)]] = [
      [("Host", "a"), ("User-Agent", "client/1.0"), ("Accept", "*/*")],
      [("Host", "a"), ("User-Agent", "client/1.0"), ("Accept", "*/*")],
      [("Host", "b"), ("User-Agent", "client/2.0"), ("Accept", "*/*")],
      [("Host", "b"), ("Accept", "*/*"), ("User-Agent", "client/2.0")],
      [("Host", "b")],
      [
        ("Host", "b"), ("X-Long", long), ("X-A", "1"), ("X-B", "2"), ("X-C", "3"), ("X-D", "4"), ("X-E", "5"),
        ("X-F", "6"), ("X-G", "7"), ("X-H", "8"),
      ],
      [
        ("Host", "b"), ("X-Long", long + "w"), ("X-A", "1"), ("X-B", "2"), ("X-C", "3"), ("X-D", "4"),
        ("X-E", "5"), ("X-F", "6"), ("X-G", "7"), ("X-H", "9"),
      ],
      [("host", "b"), ("x-long", "short")],
      [("Host", "b"), ("X-Empty", "")],
      [("Host", "b"), ("X-Empty", "")],
      [("Host", "b"), ("X-V", "12")],
      [("Host", "b"), ("X-V", "1")],  // a prefix of the line before
      [("Host", "b"), ("X-V", "123")],  // the line before is a prefix of it
      [("Host", "b"), ("X-V", "124")],  // the same length, the last byte differs
      [("Host", "b"), ("X-W", "124")],  // a name differs
      [("Host", "b"), ("X-W", "124"), ("A", "12"), ("B", "3")],
      [("Host", "b"), ("X-W", "124"), ("A", "1"), ("B", "23")],  // the same section length, lines split elsewhere
      [("Host", "b"), ("X-W", "124"), ("A", "1"), ("B", "23")],
    ]
    for fields in requests {
      connection.send("GET /headers HTTP/1.1\r\n" + fields.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n")
      let response = try XCTUnwrap(connection.readResponses(1).first)
      let expected = fields.map { "\($0.0)=\($0.1)\n" }.joined()
      XCTAssertTrue(response.hasSuffix("\r\n\r\n" + expected), "\(fields): \(response)")
    }
    // Optional whitespace around a value is not part of it, sent or remembered.
    connection.send("GET /headers HTTP/1.1\r\nHost:  c \r\n\r\nGET /headers HTTP/1.1\r\nHost: c\r\n\r\n")
    let spaced = connection.readResponses(2)
    XCTAssertEqual(spaced.count, 2)
    for response in spaced { XCTAssertTrue(response.hasSuffix("\r\n\r\nHost=c\n"), response) }
  }

  func testBodySplitAcrossManyWritesIsReassembled() throws {
    let connection = try RawConnection(port: server.port)
    let request =
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    for byte in request.utf8 {
      connection.send([byte])
    }
    let responses = connection.readResponses(1)
    XCTAssertEqual(responses.count, 1)
    XCTAssertTrue(responses.first?.hasSuffix("\r\n\r\nhello world") ?? false, responses.first ?? "")
    XCTAssertFalse(responses.first?.contains("X-T") ?? true, "trailers must not leak into anything")
  }

  func testExpectContinueGets100BeforeTheBody() throws {
    let connection = try RawConnection(port: server.port, receiveTimeout: 2)
    connection.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    var buffer = [UInt8](repeating: 0, count: 100)
    let n = read(connection.fd, &buffer, buffer.count)
    XCTAssertEqual(String(decoding: buffer[0..<max(0, n)], as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
    connection.send("ping")
    XCTAssertTrue(connection.readResponses(1).first?.hasSuffix("ping") ?? false)
  }

  func testHeadHasLengthButNoBody() throws {
    let connection = try RawConnection(port: server.port, receiveTimeout: 1)
    connection.send("HEAD /hello/x HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/y HTTP/1.1\r\nHost: a\r\n\r\n")
    let (text, _) = connection.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
    XCTAssertTrue(text.contains("Content-Length: 7\r\n"))
    // The next response follows the HEAD head directly: no body in between.
    XCTAssertTrue(text.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), text)
    XCTAssertTrue(text.hasSuffix("hello y"))
  }

  func testHTTP10ClosesUnlessKeepAliveIsAsked() throws {
    let plain = try RawConnection(port: server.port)
    plain.send("GET /hello/x HTTP/1.0\r\n\r\n")
    let (text, closed) = plain.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"))
    XCTAssertTrue(closed)

    let keepAlive = try RawConnection(port: server.port, receiveTimeout: 0.5)
    keepAlive.send("GET /hello/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    let (kept, keptClosed) = keepAlive.readUntilClose()
    XCTAssertTrue(kept.contains("Connection: keep-alive\r\n"))
    XCTAssertFalse(keptClosed)
  }

  func testConnectionCloseIsHonouredAfterTheResponse() throws {
    let connection = try RawConnection(port: server.port)
    connection.send(
      "GET /hello/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /hello/ignored HTTP/1.1\r\nHost: a\r\n\r\n")
    let (text, closed) = connection.readUntilClose()
    XCTAssertEqual(RawConnection.split(text).count, 1)
    XCTAssertTrue(text.contains("Connection: close"))
    XCTAssertTrue(closed)
  }

  func testUnknownRouteIs404AndWrongMethodIs405WithAllow() throws {
    let connection = try RawConnection(port: server.port)
    connection.send("GET /nope HTTP/1.1\r\nHost: a\r\n\r\nDELETE /echo HTTP/1.1\r\nHost: a\r\n\r\n")
    let responses = connection.readResponses(2)
    XCTAssertTrue(responses[0].hasPrefix("HTTP/1.1 404 Not Found"))
    XCTAssertTrue(responses[0].contains(#""error":"not_found""#))
    XCTAssertTrue(responses[1].hasPrefix("HTTP/1.1 405 Method Not Allowed"))
    XCTAssertTrue(responses[1].contains("Allow: POST\r\n"))
  }

  func testADroppedResponderAnswers500AndIsCounted() throws {
    let connection = try RawConnection(port: server.port)
    connection.send(
      "GET /drop HTTP/1.1\r\nHost: a\r\n\r\nGET /twice HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/after HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    let responses = connection.readResponses(3)
    XCTAssertTrue(responses[0].hasPrefix("HTTP/1.1 500 "))
    XCTAssertTrue(responses[1].hasSuffix("first"))
    XCTAssertTrue(responses[2].hasSuffix("hello after"))
    XCTAssertEqual(server.server.statistics.count(.droppedResponder), 1)
    XCTAssertEqual(server.server.statistics.count(.doubleResponse), 1)
  }

  func testLargeResponsesArriveWhole() throws {
    let connection = try RawConnection(port: server.port)
    connection.send("GET /big/3000000 HTTP/1.1\r\nHost: a\r\n\r\nGET /hello/after HTTP/1.1\r\nHost: a\r\n\r\n")
    let responses = connection.readResponses(2)
    XCTAssertEqual(responses.count, 2)
    XCTAssertTrue(responses[0].hasSuffix(String(repeating: "x", count: 100)))
    XCTAssertTrue(responses[1].hasSuffix("hello after"))
  }
}

/// Behaviour that needs its own server configuration.
final class ServerLimitTests: XCTestCase {
  func testSlowlorisHeadIsCutOffWith408() throws {
    let server = try TestServer { $0.headerReadTimeout = 1 }
    defer { server.stop() }
    let connection = try RawConnection(port: server.port, receiveTimeout: 4)
    connection.send("GET /hello/x HTTP/1.1\r\nHost: a\r\n")
    let start = Date()
    let (text, closed) = connection.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 408 "), text)
    XCTAssertTrue(closed)
    XCTAssertLessThan(Date().timeIntervalSince(start), 3.5)
  }

  func testIdleKeepAliveConnectionsAreClosed() throws {
    let server = try TestServer { $0.idleTimeout = 1 }
    defer { server.stop() }
    let connection = try RawConnection(port: server.port, receiveTimeout: 4)
    connection.send("GET /hello/x HTTP/1.1\r\nHost: a\r\n\r\n")
    let (text, closed) = connection.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 200 OK"))
    XCTAssertTrue(closed, "idle connection was not closed")
    XCTAssertEqual(server.server.statistics.count(.idleTimeout), 1)
  }

  func testConnectionsBeyondTheLimitGet503() throws {
    let server = try TestServer { $0.maxConnections = 2 }
    defer { server.stop() }
    let first = try RawConnection(port: server.port)
    let second = try RawConnection(port: server.port)
    first.send("GET /hello/1 HTTP/1.1\r\nHost: a\r\n\r\n")
    second.send("GET /hello/2 HTTP/1.1\r\nHost: a\r\n\r\n")
    XCTAssertEqual(first.readResponses(1).count, 1)
    XCTAssertEqual(second.readResponses(1).count, 1)
    let third = try RawConnection(port: server.port)
    let (text, closed) = third.readUntilClose()
    XCTAssertTrue(text.hasPrefix("HTTP/1.1 503 "), text)
    XCTAssertTrue(text.contains("Retry-After: 1"))
    XCTAssertTrue(closed)
    XCTAssertEqual(RawConnection.split(text).count, 1, "503 body length must match Content-Length")
  }

  func testGracefulShutdownFinishesInFlightRequestsAndClosesIdleOnes() throws {
    let server = try TestServer()
    let busy = try RawConnection(port: server.port)
    let idle = try RawConnection(port: server.port)
    idle.send("GET /hello/idle HTTP/1.1\r\nHost: a\r\n\r\n")
    XCTAssertEqual(idle.readResponses(1).count, 1)
    busy.send("GET /delay/300 HTTP/1.1\r\nHost: a\r\n\r\n")
    usleep(50_000)
    let done = DispatchSemaphore(value: 0)
    server.server.shutdown { done.signal() }
    let (idleText, idleClosed) = idle.readUntilClose()
    XCTAssertEqual(idleText, "")
    XCTAssertTrue(idleClosed)
    let (text, closed) = busy.readUntilClose()
    XCTAssertTrue(text.hasSuffix("waited 300"), text)
    XCTAssertTrue(text.contains("Connection: close"))
    XCTAssertTrue(closed)
    XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
    XCTAssertThrowsError(try RawConnection(port: server.port), "still accepting after shutdown")
    server.group.stop()
    server.group.wait()
  }

  func testDrainTimeoutClosesRequestsThatTakeTooLong() throws {
    let server = try TestServer { $0.drainTimeout = 0.3 }
    let busy = try RawConnection(port: server.port)
    busy.send("GET /delay/5000 HTTP/1.1\r\nHost: a\r\n\r\n")
    usleep(50_000)
    let done = DispatchSemaphore(value: 0)
    let start = Date()
    server.server.shutdown { done.signal() }
    XCTAssertEqual(done.wait(timeout: .now() + 3), .success)
    XCTAssertLessThan(Date().timeIntervalSince(start), 2)
    XCTAssertTrue(busy.readUntilClose().closed)
    server.group.stop()
    server.group.wait()
  }
}
