import XCTest

@testable import HTTPCore

final class RequestHeadParserTests: XCTestCase {
  /// Each case: the raw request head and what the parser must make of it, whole and byte by byte.
  let table: [(name: String, input: String, expected: Expected)] = [
    (
      "simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: true)
    ),
    (
      "GET with query", "GET /features/customer/42?features=a,b HTTP/1.1\r\nHost: a\r\n\r\n",
      .request(method: "GET", target: "/features/customer/42?features=a,b", framing: .none, keepAlive: true)
    ),
    (
      "leading empty line is ignored", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: true)
    ),
    (
      "content length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .length(5), keepAlive: true)
    ),
    (
      "content length zero", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .none, keepAlive: true)
    ),
    (
      "identical duplicate content length",
      "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .length(5), keepAlive: true)
    ),
    (
      "content length list of identical values", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .length(5), keepAlive: true)
    ),
    (
      "chunked", "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .chunked, keepAlive: true)
    ),
    (
      "chunked in any case", "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
      .request(method: "POST", target: "/p", framing: .chunked, keepAlive: true)
    ),
    (
      "connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: false)
    ),
    (
      "connection close in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: false)
    ),
    (
      "HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: false)
    ),
    (
      "HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: true)
    ),
    (
      "HTTP/1.2 is treated as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: true)
    ),
    (
      "value whitespace trimmed, obs-text allowed", "GET / HTTP/1.1\r\nHost: a\r\nX-Name:  caf\u{e9} \t\r\n\r\n",
      .request(method: "GET", target: "/", framing: .none, keepAlive: true)
    ),
    (
      "absolute-form target", "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
      .request(method: "GET", target: "http://a/x", framing: .none, keepAlive: true)
    ),
    (
      "custom method token", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n",
      .request(method: "PURGE", target: "/x", framing: .none, keepAlive: true)
    ),
    (
      "expect 100-continue", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
      .request(method: "POST", target: "/", framing: .length(3), keepAlive: true)
    ),

    // Incomplete heads.
    ("no end of head yet", "GET / HTTP/1.1\r\nHost: a\r\n", .incomplete),
    ("half a request line", "GET /featu", .incomplete),

    // Smuggling and framing errors: 400.
    (
      "content length and transfer encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .status(400)
    ),
    (
      "transfer encoding then content length",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .status(400)
    ),
    (
      "differing content lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      .status(400)
    ),
    ("differing content lengths in a list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", .status(400)),
    ("negative content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .status(400)),
    ("signed content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", .status(400)),
    ("hex content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", .status(400)),
    (
      "overflowing content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      .status(400)
    ),
    ("empty content length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", .status(400)),
    (
      "empty content length after a valid one",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: \r\n\r\n", .status(400)
    ),
    (
      "comma-only content length after a valid one",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: ,\r\n\r\n", .status(400)
    ),
    ("chunked not final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .status(400)),
    (
      "chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      .status(400)
    ),
    ("unknown coding only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .status(400)),
    (
      "unsupported coding before chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      .status(501)
    ),
    ("transfer encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .status(400)),
    (
      "chunked with a space-padded name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
      .status(400)
    ),
    ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", .status(400)),
    ("bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n", .status(400)),
    ("bare LF line ending", "GET / HTTP/1.1\nHost: a\n\n", .status(400)),
    ("bare LF in headers", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", .status(400)),
    ("NUL in a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\u{0}c\r\n\r\n", .status(400)),
    ("space in a field name", "GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", .status(400)),
    ("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", .status(400)),
    ("field without colon", "GET / HTTP/1.1\r\nHost: a\r\nXA\r\n\r\n", .status(400)),
    ("invalid method character", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    ("two spaces in the request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    ("space in the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    ("non-ASCII in the target", "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    ("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", .status(400)),
    ("missing version", "GET /\r\nHost: a\r\n\r\n", .status(400)),
    ("missing Host in 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", .status(400)),
    ("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .status(400)),
    ("unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", .status(417)),

    // Versions: 505.
    ("HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .status(505)),
    ("HTTP/0.9 style version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", .status(505)),
    ("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", .status(505)),
  ]

  func testTableWholeAndByteByByte() {
    for entry in table {
      let (whole, _) = parseHead(entry.input.bytes)
      XCTAssertEqual(whole, entry.expected, "\(entry.name) (whole)")
      if entry.expected != .incomplete {
        XCTAssertEqual(parseByteByByte(entry.input.bytes), entry.expected, "\(entry.name) (byte by byte)")
      }
    }
  }

  /// The byte classes are bit tests on constants: every byte is checked against RFC 9110's
  /// definitions spelled out as sets.
  func testByteClassesMatchRFC9110ForEveryByte() {
    let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789".utf8) + Array("abcdefghijklmnopqrstuvwxyz".utf8))
      .union("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
    for value in 0...255 {
      let byte = UInt8(value)
      XCTAssertEqual(ByteClass.isToken(byte), tchar.contains(byte), "tchar \(value)")
      XCTAssertEqual(
        ByteClass.isFieldValue(byte), byte == 0x09 || (0x20...0x7E).contains(byte) || byte >= 0x80,
        "field value \(value)")
      XCTAssertEqual(ByteClass.isTarget(byte), (0x21...0x7E).contains(byte), "target \(value)")
    }
  }

  func testHeaderFieldsAreSlicesOfTheBuffer() throws {
    let bytes = "GET / HTTP/1.1\r\nHost: example\r\nX-Empty:\r\nAccept:  */*  \r\n\r\n".bytes
    let (_, parsed) = parseHead(bytes)
    let head = try XCTUnwrap(parsed)
    func text(_ range: ParsedHead.Range) -> String { String(decoding: bytes[range.start..<range.end], as: UTF8.self) }
    XCTAssertEqual(head.fields.map { text($0.name) }, ["Host", "X-Empty", "Accept"])
    XCTAssertEqual(head.fields.map { text($0.value) }, ["example", "", "*/*"])
    XCTAssertEqual(head.length, bytes.count)
  }

  func testPipelinedHeadReportsOnlyItsOwnLength() throws {
    let first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
    let bytes = (first + "GET /b HTTP/1.1\r\nHost: a\r\n\r\n").bytes
    let (_, parsed) = parseHead(bytes)
    XCTAssertEqual(try XCTUnwrap(parsed).length, first.utf8.count)
  }

  func testRequestLineOverLimitIs414EvenBeforeItEnds() {
    var limits = HTTPLimits()
    limits.maxRequestLineBytes = 64
    let long = "GET /" + String(repeating: "a", count: 100)
    XCTAssertEqual(parseHead(long.bytes, limits: limits).0, .status(414))
    XCTAssertEqual(parseHead((long + " HTTP/1.1\r\nHost: a\r\n\r\n").bytes, limits: limits).0, .status(414))
    XCTAssertEqual(
      parseHead("GET /short HTTP/1.1\r\nHost: a\r\n\r\n".bytes, limits: limits).0,
      .request(method: "GET", target: "/short", framing: .none, keepAlive: true))
  }

  func testHeaderBlockOverLimitIs431EvenBeforeItEnds() {
    var limits = HTTPLimits()
    limits.maxHeaderBytes = 100
    let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "b", count: 200)
    XCTAssertEqual(parseHead(big.bytes, limits: limits).0, .status(431))
    XCTAssertEqual(parseHead((big + "\r\n\r\n").bytes, limits: limits).0, .status(431))
  }

  func testMoreFieldsThanTheLimitIs431() {
    var limits = HTTPLimits()
    limits.maxHeaderCount = 10
    let ten = "GET / HTTP/1.1\r\nHost: a\r\n" + (1...9).map { "X-\($0): v\r\n" }.joined() + "\r\n"
    XCTAssertEqual(
      parseHead(ten.bytes, limits: limits).0,
      .request(method: "GET", target: "/", framing: .none, keepAlive: true))
    let eleven = "GET / HTTP/1.1\r\nHost: a\r\n" + (1...10).map { "X-\($0): v\r\n" }.joined() + "\r\n"
    XCTAssertEqual(parseHead(eleven.bytes, limits: limits).0, .status(431))
  }

  func testBodyLargerThanTheLimitIs413() {
    var limits = HTTPLimits()
    limits.maxBodyBytes = 10
    XCTAssertEqual(
      parseHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n".bytes, limits: limits).0, .status(413))
    XCTAssertEqual(
      parseHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n".bytes, limits: limits).0,
      .request(method: "POST", target: "/", framing: .length(10), keepAlive: true))
  }
}
