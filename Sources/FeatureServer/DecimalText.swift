/// Numbers from UTF-8 bytes without making a String first, with the standard library's exact
/// semantics: `int64` accepts what `Int64(String)` accepts, `double` returns what
/// `Double(String)` returns (plain decimals are converted here, the rest by the standard library).
enum DecimalText {
  /// Powers of ten that a Double holds exactly.
  private static let exactPowersOfTen: [Double] = (0...22).map { exponent in
    var value = 1.0
    for _ in 0..<exponent { value *= 10 }
    return value
  }

  /// `[+-]digits`, nil on anything else or on overflow (as `Int64(String)`).
  static func int64(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    guard let first = bytes.first else { return nil }
    let negative = first == UInt8(ascii: "-")
    let start = (negative || first == UInt8(ascii: "+")) ? 1 : 0
    guard start < bytes.count else { return nil }
    var value: Int64 = 0
    for index in start..<bytes.count {
      let digit = bytes[index] &- 48
      guard digit < 10 else { return nil }
      let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (next, overflow2) =
        negative ? shifted.subtractingReportingOverflow(Int64(digit)) : shifted.addingReportingOverflow(Int64(digit))
      guard !overflow1 && !overflow2 else { return nil }
      value = next
    }
    return value
  }

  /// The Double the text denotes, as `Double(String)` gives it. `[-]digits[.digits]` with at
  /// most 15 significant digits is exact as an integer over a power of ten, so one correctly
  /// rounded division gives the correctly rounded value (Clinger's fast path); anything else
  /// (exponents, long mantissas, hex, inf, nan) goes to the standard library.
  static func double(_ bytes: UnsafeRawBufferPointer) -> Double? {
    var index = 0
    let negative = bytes.first == UInt8(ascii: "-")
    if negative { index = 1 }
    var mantissa: UInt64 = 0
    var significantDigits = 0
    var integerDigits = 0
    var fractionDigits = 0
    var sawPoint = false
    while index < bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: ".") && !sawPoint {
        sawPoint = true
      } else if byte &- 48 < 10 {
        if sawPoint { fractionDigits += 1 } else { integerDigits += 1 }
        if mantissa != 0 || byte != 48 { significantDigits += 1 }
        mantissa = mantissa &* 10 &+ UInt64(byte &- 48)
      } else {
        break
      }
      index += 1
    }
    if index == bytes.count && integerDigits > 0 && (!sawPoint || fractionDigits > 0) && significantDigits <= 15
      && fractionDigits <= 22
    {
      let magnitude = Double(mantissa) / exactPowersOfTen[fractionDigits]
      return negative ? -magnitude : magnitude
    }
    // No number anyone means is longer than this; refusing longer text keeps an 8 MiB field
    // from becoming an 8 MiB String on the read path.
    guard bytes.count <= maxTextBytes else { return nil }
    return Double(String(decoding: bytes, as: UTF8.self))
  }

  /// The longest text `double` converts (the shortest round-trip form of any Double, with an
  /// exponent, is under 30 bytes; decimals with long zero runs stay well under this).
  static let maxTextBytes = 512
}
