/// The decimal text of an integer, written straight into a byte buffer: the one implementation
/// for HTTP status codes and Content-Length, RESP lengths, JSON numbers and load-generator
/// variables. `String(value)` allocates a String per number; this writes the digits into stack
/// memory and appends them once.
public enum DecimalDigits {
  /// Appends the digits of `value`.
  @inlinable
  public static func append(_ value: UInt64, to output: inout [UInt8]) {
    if value < 10 {
      output.append(48 &+ UInt8(truncatingIfNeeded: value))
      return
    }
    // UInt64.max has 20 digits.
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
      var remaining = value
      var start = 20
      while remaining > 0 {
        start -= 1
        digits[start] = 48 &+ UInt8(truncatingIfNeeded: remaining % 10)
        remaining /= 10
      }
      output.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<20]))
    }
  }

  /// Appends `value` with a leading `-` when negative (`Int64.min` included).
  @inlinable
  public static func append(_ value: Int64, to output: inout [UInt8]) {
    if value < 0 { output.append(UInt8(ascii: "-")) }
    append(value.magnitude, to: &output)
  }

  /// Appends `value` with a leading `-` when negative.
  @inlinable
  public static func append(_ value: Int, to output: inout [UInt8]) {
    append(Int64(value), to: &output)
  }
}
