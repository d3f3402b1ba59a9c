import XCTest

@testable import HTTPCore

final class ChunkedDecoderTests: XCTestCase {
  enum Result: Equatable {
    case body(String, consumed: Int)
    case status(Int)
    case needMore
  }

  func decode(_ text: String, limits: HTTPLimits = HTTPLimits(), byteByByte: Bool = false) -> Result {
    var decoder = ChunkedDecoder(limits: limits)
    var body: [UInt8] = []
    let bytes = Array(text.utf8)
    let pieces: [ArraySlice<UInt8>] = byteByByte ? bytes.indices.map { bytes[$0...$0] } : [bytes[...]]
    var consumed = 0
    for piece in pieces {
      let outcome = Array(piece).withUnsafeBytes { decoder.decode($0, into: &body) }
      switch outcome {
      case .needMore: consumed += piece.count
      case .done(let used): return .body(String(decoding: body, as: UTF8.self), consumed: consumed + used)
      case .failure(let error): return .status(error.status.code)
      }
    }
    return .needMore
  }

  let table: [(name: String, input: String, expected: Result)] = [
    ("two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", .body("abcde", consumed: 20)),
    ("uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n", .body("0123456789", consumed: 20)),
    ("extension ignored", "3;name=value\r\nabc\r\n0\r\n\r\n", .body("abc", consumed: 24)),
    ("quoted extension ignored", "3;a=\"b c\"\r\nabc\r\n0\r\n\r\n", .body("abc", consumed: 21)),
    ("trailers parsed and dropped", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n", .body("abc", consumed: 31)),
    ("only the last chunk", "0\r\n\r\n", .body("", consumed: 5)),
    ("stops at its end, leaves the next request", "1\r\na\r\n0\r\n\r\nGET /", .body("a", consumed: 11)),
    ("incomplete", "3\r\nab", .needMore),
    ("not hex", "g\r\nabc\r\n0\r\n\r\n", .status(400)),
    ("empty size", "\r\nabc\r\n0\r\n\r\n", .status(400)),
    ("bare LF after size", "3\nabc\r\n0\r\n\r\n", .status(400)),
    ("data longer than its size", "3\r\nabcd\r\n0\r\n\r\n", .status(400)),
    ("missing CRLF after data", "3\r\nabc0\r\n\r\n", .status(400)),
    ("size overflow", "fffffffffffffffffffff\r\n", .status(413)),
    ("negative size", "-1\r\n", .status(400)),
    ("control character in extension", "3;a\u{1}\r\nabc\r\n0\r\n\r\n", .status(400)),
    ("malformed trailer", "0\r\nno colon here\r\n\r\n", .status(400)),
    ("bare LF at the end", "0\r\n\n", .status(400)),
  ]

  func testTableWholeAndByteByByte() {
    for entry in table {
      XCTAssertEqual(decode(entry.input), entry.expected, "\(entry.name) (whole)")
      XCTAssertEqual(decode(entry.input, byteByByte: true), entry.expected, "\(entry.name) (byte by byte)")
    }
  }

  func testBodyOverTheLimitIs413() {
    var limits = HTTPLimits()
    limits.maxBodyBytes = 4
    XCTAssertEqual(decode("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", limits: limits), .status(413))
    XCTAssertEqual(decode("4\r\nabcd\r\n0\r\n\r\n", limits: limits), .body("abcd", consumed: 14))
  }

  func testLongExtensionsAre400() {
    var limits = HTTPLimits()
    limits.maxChunkLineBytes = 16
    XCTAssertEqual(
      decode("3;" + String(repeating: "x", count: 40) + "\r\nabc\r\n0\r\n\r\n", limits: limits), .status(400))
  }

  func testTooManyTrailersAre431() {
    var limits = HTTPLimits()
    limits.maxHeaderCount = 2
    XCTAssertEqual(decode("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits), .status(431))
  }
}
