import XCTest

@testable import HTTPCore

final class ResponseSerializerTests: XCTestCase {
  func serialized(_ response: HTTPResponse, keepAlive: Bool = true) -> String {
    var bytes: [UInt8] = []
    ResponseSerializer.append(
      response, to: &bytes, keepAlive: keepAlive, version: .http1_1, omitBody: false, date: DateCache())
    // The Date line changes with the clock: cut it out before comparing.
    return String(decoding: bytes, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
      .filter { !$0.hasPrefix("Date: ") }.joined(separator: "\r\n")
  }

  /// Prerendered header sets go out byte for byte as the same fields rendered one by one, leave
  /// out the fields the server owns, and stop being used once the fields change.
  func testPrerenderedHeadersSerializeLikeTheirFieldsAndChangesAreNotLost() {
    let fields = [("Content-Type", "application/json"), ("X-Cache", "HIT"), ("content-length", "999")]
    let plain = HTTPResponse(status: .ok, headers: HTTPHeaders(fields), body: Array("{}".utf8))
    let prerendered = HTTPResponse(status: .ok, headers: .prerendered(fields), body: Array("{}".utf8))
    XCTAssertNotNil(prerendered.headers.http1Lines)
    XCTAssertEqual(
      serialized(prerendered),
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Cache: HIT\r\nContent-Length: 2\r\n\r\n{}")
    XCTAssertEqual(serialized(prerendered), serialized(plain))
    var changed = prerendered
    changed.headers.add(name: "Retry-After", value: "1")
    XCTAssertNil(changed.headers.http1Lines)
    XCTAssertTrue(serialized(changed).contains("X-Cache: HIT\r\nRetry-After: 1\r\n"), serialized(changed))
    var removed = prerendered
    removed.headers.remove(name: "x-cache")
    XCTAssertFalse(serialized(removed).contains("X-Cache"), serialized(removed))
  }

  func testStatusLinesCarryTheCodeAndReason() {
    XCTAssertTrue(serialized(.init(status: .notFound)).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
    XCTAssertTrue(serialized(.init(status: HTTPStatus(code: 299, reason: "Odd"))).hasPrefix("HTTP/1.1 299 Odd\r\n"))
    XCTAssertTrue(serialized(.init(status: .ok), keepAlive: false).contains("\r\nConnection: close\r\n"))
  }
}
