import Codecs
import XCTest

final class DecimalDigitsTests: XCTestCase {
  /// The digits written straight into a buffer equal the standard library's text for every
  /// boundary (the extremes of both widths, powers of ten and their neighbours) and random values.
  func testDigitsEqualTheStandardLibrarysTextAtEveryBoundary() {
    var signed: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.min + 1]
    var unsigned: [UInt64] = [0, 9, 10, UInt64.max, UInt64.max - 1]
    var power: UInt64 = 1
    for _ in 0..<19 {
      power *= 10
      unsigned += [power - 1, power, power + 1]
      if power <= UInt64(Int64.max) { signed += [Int64(power) - 1, Int64(power), -Int64(power)] }
    }
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<1000 {
      signed.append(Int64.random(in: .min ... .max, using: &generator))
      unsigned.append(UInt64.random(in: .min ... .max, using: &generator))
    }
    for value in signed {
      var bytes: [UInt8] = [UInt8(ascii: "x")]
      DecimalDigits.append(value, to: &bytes)
      XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "x\(value)")
    }
    for value in unsigned {
      var bytes: [UInt8] = []
      DecimalDigits.append(value, to: &bytes)
      XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "\(value)")
    }
  }
}
