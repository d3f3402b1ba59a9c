import XCTest

@testable import HTTPCore

final class ResponseParserTests: XCTestCase {
  /// Feeds `stream` in pieces of `step` bytes and collects the complete responses.
  func responses(
    _ stream: String, step: Int = Int.max, isHead: Bool = false, closeAtEnd: Bool = false, keepsFields: Bool = true
  ) -> [HTTPClientResponse] {
    var parser = ResponseParser(limits: HTTPLimits())
    parser.keepsFields = keepsFields
    var buffer: [UInt8] = []
    var done: [HTTPClientResponse] = []
    let bytes = Array(stream.utf8)
    var offset = 0
    while offset < bytes.count {
      let end = min(bytes.count, offset + step)
      buffer.append(contentsOf: bytes[offset..<end])
      offset = end
      while !buffer.isEmpty {
        let outcome = buffer.withUnsafeBytes { parser.parse($0, isHead: isHead) }
        guard case .response(let response, let consumed) = outcome else {
          if case .needMore(let used) = outcome { buffer.removeFirst(used) }
          break
        }
        done.append(response)
        buffer.removeFirst(consumed)
      }
    }
    if closeAtEnd, let last = parser.finishAtClose() { done.append(last) }
    return done
  }

  /// A load generator's parser keeps only statuses and body lengths, framed exactly as the full
  /// parser frames them (length, chunked, until close), fed whole and byte by byte; framing
  /// fields are still checked.
  func testStatusAndLengthOnlyModeFramesEveryResponseTheSameWay() {
    let stream =
      "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
      + "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
      + "HTTP/1.1 204 No Content\r\nX-Anything-Goes: \u{1}\r\n\r\n" + "HTTP/1.0 200 OK\r\n\r\nuntil the end"
    for step in [Int.max, 1, 5] {
      let lean = responses(stream, step: step, closeAtEnd: true, keepsFields: false)
      XCTAssertEqual(lean.map(\.status), [200, 201, 204, 200], "step \(step)")
      XCTAssertEqual(lean.map(\.bodyByteCount), [5, 5, 0, 13], "step \(step)")
      XCTAssertTrue(lean.allSatisfy { $0.body.isEmpty && $0.headers.count == 0 && $0.reason.isEmpty }, "nothing kept")
    }
    let full = responses(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    XCTAssertEqual(full.map(\.bodyByteCount), [5, 3])
    // Ambiguous framing is refused in both modes.
    var parser = ResponseParser(limits: HTTPLimits())
    parser.keepsFields = false
    let bad = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".utf8)
    guard case .failure = bad.withUnsafeBytes({ parser.parse($0, isHead: false) }) else {
      return XCTFail("conflicting Content-Length accepted")
    }
  }

  func testContentLengthResponsesWholeAndByteByByte() {
    let stream =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    for step in [Int.max, 1, 7] {
      let parsed = responses(stream, step: step)
      XCTAssertEqual(parsed.map(\.status), [200, 404], "step \(step)")
      XCTAssertEqual(parsed.first?.text, "hello")
      XCTAssertEqual(parsed.first?.headers["x-a"], "b")
      XCTAssertEqual(parsed.last?.reason, "Not Found")
    }
  }

  func testChunkedResponse() {
    let parsed = responses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", step: 2)
    XCTAssertEqual(parsed.map(\.text), ["abc"])
  }

  func testInterimContinueIsSkipped() {
    let parsed = responses("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    XCTAssertEqual(parsed.map(\.status), [201])
  }

  func testHeadResponseHasNoBodyDespiteLength() {
    let parsed = responses("HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n", isHead: true)
    XCTAssertEqual(parsed.map(\.body.count), [0])
  }

  func testBodyDelimitedByClose() {
    let parsed = responses("HTTP/1.0 200 OK\r\n\r\nuntil the end", step: 3, closeAtEnd: true)
    XCTAssertEqual(parsed.map(\.text), ["until the end"])
  }

  func testGarbageIsAFailure() {
    var parser = ResponseParser(limits: HTTPLimits())
    let outcome = Array("SSH-2.0-OpenSSH\r\n\r\n".utf8).withUnsafeBytes { parser.parse($0, isHead: false) }
    guard case .failure = outcome else { return XCTFail("expected a failure") }
  }

  /// A Content-Length no client should buffer is refused before anything is allocated (found
  /// by the fuzzer: reserving 10^17 bytes).
  func testOversizedContentLengthIsAFailure() {
    var parser = ResponseParser(limits: HTTPLimits())
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n"
    let outcome = Array(head.utf8).withUnsafeBytes { parser.parse($0, isHead: false) }
    guard case .failure(let reason) = outcome else { return XCTFail("expected a failure") }
    XCTAssertTrue(reason.contains("over the"), reason)
  }

  func testStatusLineAndHeadersAreParsedFromBytes() {
    let parsed = responses("HTTP/1.1 404 Not Found\r\nX-A:  spaced \t\r\ncontent-length: 2\r\n\r\nno", step: 1)
    XCTAssertEqual(parsed.first?.status, 404)
    XCTAssertEqual(parsed.first?.reason, "Not Found")
    XCTAssertEqual(parsed.first?.headers["X-A"], "spaced")
    XCTAssertEqual(parsed.first?.text, "no")
    for bad in [
      "HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
    ] {
      var parser = ResponseParser(limits: HTTPLimits())
      let outcome = Array(bad.utf8).withUnsafeBytes { parser.parse($0, isHead: false) }
      guard case .failure = outcome else { return XCTFail("\(bad) should fail") }
    }
  }

  /// A response that could be framed two ways is refused, whichever header comes first.
  func testConflictingFramingIsAFailure() {
    for bad in [
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\n\r\n",
    ] {
      var parser = ResponseParser(limits: HTTPLimits())
      let outcome = Array(bad.utf8).withUnsafeBytes { parser.parse($0, isHead: false) }
      guard case .failure = outcome else { return XCTFail("\(bad.debugDescription) should fail") }
    }
    XCTAssertEqual(
      responses("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").map(\.text), ["ok"],
      "identical repeats are one length")
  }

  /// A large declared length is not reserved before the bytes come.
  func testADeclaredLengthIsNotAllocatedUpFront() {
    var parser = ResponseParser(limits: HTTPLimits())
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 60000000\r\n\r\nab"
    let outcome = Array(head.utf8).withUnsafeBytes { parser.parse($0, isHead: false) }
    guard case .needMore = outcome else { return XCTFail("expected to need more") }
    XCTAssertLessThan(parser.bodyCapacity, 1_000_000)
  }

  /// Requests that would split on the wire are refused before anything is sent.
  func testRequestsWithCRLFInAHeaderOrTargetAreInvalid() {
    XCTAssertNil(HTTPClientRequest(target: "/ok", headers: ["X-A": "b"]).invalidity)
    XCTAssertNotNil(HTTPClientRequest(target: "/ok", headers: ["X-A": "b\r\nX-Injected: 1"]).invalidity)
    XCTAssertNotNil(HTTPClientRequest(target: "/ok", headers: ["X A": "b"]).invalidity)
    XCTAssertNotNil(HTTPClientRequest(target: "/a b", headers: [:]).invalidity)
    XCTAssertNotNil(HTTPClientRequest(target: "/a\r\nHost: x", headers: [:]).invalidity)
  }
}
