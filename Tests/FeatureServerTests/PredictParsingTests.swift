import XCTest

@testable import FeatureServer

/// The /predict body decoder, RFC 3339 times and the admin token comparison.
final class PredictParsingTests: XCTestCase {
  func testFlatObjectParsesScalarsEscapesAndSkipsNestedValues() throws {
    let body =
      #" { "s": "a\"b\\c\/d\n\u00e9\ud83d\ude00", "i": -12, "f": 1.5e2, "t": true, "n": null, "o": {"x": [1, {"y": []}]}, "e": "" } "#
    let object = try FlatJSONObject(parsing: Array(body.utf8))
    XCTAssertEqual(object["s"], .string("a\"b\\c/d\né😀"))
    XCTAssertEqual(object["i"], .number(-12, isInteger: true))
    XCTAssertEqual(object["f"], .number(150, isInteger: false))
    XCTAssertEqual(object["t"], .bool(true))
    XCTAssertEqual(object["n"], .null)
    XCTAssertEqual(object["o"], .nested)
    XCTAssertEqual(object["e"], .string(""))
    XCTAssertNil(object["absent"])
    XCTAssertEqual(try FlatJSONObject(parsing: Array("{}".utf8))["x"], nil)
  }

  func testMalformedBodiesAreRefusedWithTheirOffset() {
    let deep = "{\"a\":" + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"
    let cases: [(String, String)] = [
      ("", "empty body"), ("  ", "empty body"), ("{", "unexpected end"), (#"{"a" 1}"#, "expected ':'"),
      (#"{"a":1,}"#, "expected a member name"), (#"{"a":01}"#, "expected ',' or '}'"), (#"{"a":1.}"#, "bad number"),
      (#"{"a":-}"#, "bad number"), (#"{"a":tru}"#, "bad literal"), (#"{"a":"x"} x"#, "unexpected bytes"),
      ("{\"a\":\"\u{01}\"}", "control character"), (#"{"a":"\x"}"#, "bad escape"),
      (#"{"a":"\ud800"}"#, "unpaired surrogate"), (#"{"a":"\u12"}"#, #"bad \u escape"#),
      (#"{"a":[1,]}"#, "unexpected character"),
      (deep, "nested too deeply"), (#"{"a":1,"a":2}"#, "appears twice"),
    ]
    for (body, expected) in cases {
      XCTAssertThrowsError(try FlatJSONObject(parsing: Array(body.utf8)), body) { error in
        XCTAssertTrue("\(error)".contains(expected), "\(body): \(error) should contain \(expected)")
      }
    }
    XCTAssertThrowsError(try FlatJSONObject(parsing: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])) { error in
      XCTAssertTrue("\(error)".contains("not valid UTF-8"))
    }
  }

  func testRFC3339() {
    XCTAssertEqual(RFC3339.epochSeconds("1970-01-01T00:00:00Z"), 0)
    XCTAssertEqual(RFC3339.epochSeconds("2026-11-01T00:00:00Z"), 1_793_491_200)
    XCTAssertEqual(RFC3339.epochSeconds("2026-11-01T02:30:00.123+02:30"), 1_793_491_200)
    XCTAssertEqual(RFC3339.epochSeconds("2024-02-29t23:59:59z"), 1_709_251_199)
    XCTAssertEqual(RFC3339.epochSeconds("2000-03-01T00:00:00-01:00"), 951_872_400)
    for bad in [
      "2023-02-29T00:00:00Z", "2026-11-01 00:00:00", "2026-11-01T24:00:00Z", "2026-11-01T00:00:00",
      "2026-13-01T00:00:00Z",
      "2026-11-01T00:00:00+0200", "2026-11-01T00:00:00.Z", "yesterday",
    ] {
      XCTAssertNil(RFC3339.epochSeconds(bad), bad)
    }
  }

  func testConstantTimeEqual() {
    XCTAssertTrue(constantTimeEqual(Array("Bearer abc".utf8), Array("Bearer abc".utf8)))
    XCTAssertFalse(constantTimeEqual(Array("Bearer abd".utf8), Array("Bearer abc".utf8)))
    XCTAssertFalse(constantTimeEqual(Array("Bearer ab".utf8), Array("Bearer abc".utf8)))
    XCTAssertFalse(constantTimeEqual([], Array("x".utf8)))
  }
}
