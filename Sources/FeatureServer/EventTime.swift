/// Event times (`_ts` in a stored row, `event_timestamp` in a loaded file) as epoch seconds, read
/// from outside data. Everything that comes from outside goes through `seconds(_:)`, so no value
/// (1e19, 1e30, -9223372036854775808, NaN) can reach a trapping conversion or make `now - time`
/// overflow later.
public enum EventTime {
  /// The event times accepted: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
  public static let validRange: ClosedRange<Int64> = 0...253_402_300_799

  /// Epoch seconds from decimal text: an integer, or a finite decimal (its fraction dropped).
  /// Nil for anything else or for a time outside `validRange`.
  public static func seconds(_ text: UnsafeRawBufferPointer) -> Int64? {
    if let whole = DecimalText.int64(text) { return validRange.contains(whole) ? whole : nil }
    guard let value = DecimalText.double(text) else { return nil }
    return seconds(value)
  }

  /// `seconds(_:)` for text held in a String.
  public static func seconds(_ text: String) -> Int64? {
    var text = text
    return text.withUTF8 { seconds(UnsafeRawBufferPointer($0)) }
  }

  /// A finite number of seconds within `validRange`, its fraction dropped; nil otherwise.
  public static func seconds(_ value: Double) -> Int64? {
    // Compared as Doubles first: Int64(value) traps on anything beyond Int64.
    guard value.isFinite, value >= Double(validRange.lowerBound), value < Double(validRange.upperBound) + 1 else {
      return nil
    }
    return Int64(value.rounded(.towardZero))
  }

  /// Seconds from `time` to `now`, saturating instead of overflowing (the age of a row).
  public static func age(of time: Int64, now: Int64) -> Int64 {
    let (difference, overflow) = now.subtractingReportingOverflow(time)
    if overflow { return time > now ? Int64.min : Int64.max }
    return difference
  }
}
