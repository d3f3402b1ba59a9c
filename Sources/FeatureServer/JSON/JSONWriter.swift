import Codecs

/// Appends JSON tokens to a byte buffer: the hot paths render responses with it instead of
/// Foundation's encoders.
enum JSONWriter {
  static func appendString(_ value: String, to output: inout [UInt8]) {
    JSONText.appendString(value, to: &output)
  }

  static func appendRaw(_ text: StaticString, to output: inout [UInt8]) {
    output.append(literal: text)
  }

  static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
    DecimalDigits.append(value, to: &output)
  }

  /// Shortest round-trip text; non-finite values (never stored) become null.
  static func appendDouble(_ value: Double, to output: inout [UInt8]) {
    guard value.isFinite else {
      appendRaw("null", to: &output)
      return
    }
    output.append(contentsOf: value.description.utf8)
  }

  /// A model value: shortest `Float` text; NaN (missing) becomes null.
  static func appendFloat(_ value: Float, to output: inout [UInt8]) {
    guard value.isFinite else {
      appendRaw("null", to: &output)
      return
    }
    output.append(contentsOf: value.description.utf8)
  }

  /// Nanoseconds as milliseconds with three decimals (microsecond resolution): "0.084".
  static func appendMilliseconds(_ nanoseconds: UInt64, to output: inout [UInt8]) {
    let microseconds = nanoseconds / 1000 + (nanoseconds % 1000 >= 500 ? 1 : 0)  // no overflow near UInt64.max
    DecimalDigits.append(microseconds / 1000, to: &output)
    output.append(UInt8(ascii: "."))
    let fraction = microseconds % 1000
    if fraction < 100 { output.append(UInt8(ascii: "0")) }
    if fraction < 10 { output.append(UInt8(ascii: "0")) }
    DecimalDigits.append(fraction, to: &output)
  }

  static func appendValue(_ value: FeatureValue?, to output: inout [UInt8]) {
    switch value {
    case nil: appendRaw("null", to: &output)
    case .int64(let number)?: appendInteger(number, to: &output)
    case .double(let number)?: appendDouble(number, to: &output)
    case .string(let text)?: appendString(text, to: &output)
    case .bool(let flag)?: appendRaw(flag ? "true" : "false", to: &output)
    }
  }
}
