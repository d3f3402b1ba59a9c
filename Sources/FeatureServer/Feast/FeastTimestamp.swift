import Codecs

/// `google.protobuf.Timestamp` as Feast keeps it in Redis (`_ts:<view>`), and as its Python
/// server writes it in JSON (`feature_server_utils._timestamp_to_str`).
enum FeastTimestamp {
  /// The range Python's datetime can represent: 0001-01-01 to 9999-12-31.
  static let secondsRange: ClosedRange<Int64> = -62_135_596_800...253_402_300_799

  /// (seconds, nanos) of a serialised Timestamp; nil when malformed or out of range.
  static func decode(_ bytes: UnsafeRawBufferPointer) -> (Int64, Int32)? {
    var reader = ProtobufWire.Reader(bytes)
    var seconds: Int64 = 0
    var nanos: Int64 = 0
    while let field = reader.next() {
      switch (field.number, field.wireType) {
      case (1, .varint): seconds = Int64(bitPattern: field.scalar)
      case (2, .varint): nanos = Int64(Int32(truncatingIfNeeded: field.scalar))
      default: break
      }
    }
    guard !reader.failed, secondsRange.contains(seconds), (0..<1_000_000_000).contains(nanos) else { return nil }
    return (seconds, Int32(nanos))
  }

  /// A serialised Timestamp (fields left out when zero, as protobuf writes them).
  static func encode(seconds: Int64, nanos: Int32) -> [UInt8] {
    var output: [UInt8] = []
    if seconds != 0 { ProtobufWire.appendVarintField(1, seconds, to: &output) }
    if nanos != 0 { ProtobufWire.appendVarintField(2, Int64(nanos), to: &output) }
    return output
  }

  /// `"YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z"` with the quotes: no fraction when the
  /// nanoseconds are zero, else milliseconds, microseconds or nanoseconds, the shortest exact one.
  static func renderJSON(seconds: Int64, nanos: Int32) -> [UInt8] {
    var output: [UInt8] = [UInt8(ascii: "\"")]
    appendRFC3339(seconds: seconds, nanos: nanos, to: &output)
    output.append(UInt8(ascii: "\""))
    return output
  }

  static func appendRFC3339(seconds: Int64, nanos: Int32, to output: inout [UInt8]) {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let secondOfDay = seconds - days * 86_400
    let (year, month, day) = civil(days: days)
    appendDigits(year, 4, to: &output)
    output.append(UInt8(ascii: "-"))
    appendDigits(month, 2, to: &output)
    output.append(UInt8(ascii: "-"))
    appendDigits(day, 2, to: &output)
    output.append(UInt8(ascii: "T"))
    appendDigits(secondOfDay / 3600, 2, to: &output)
    output.append(UInt8(ascii: ":"))
    appendDigits(secondOfDay / 60 % 60, 2, to: &output)
    output.append(UInt8(ascii: ":"))
    appendDigits(secondOfDay % 60, 2, to: &output)
    let nanos = Int64(nanos)
    if nanos != 0 {
      output.append(UInt8(ascii: "."))
      if nanos % 1_000_000 == 0 {
        appendDigits(nanos / 1_000_000, 3, to: &output)
      } else if nanos % 1000 == 0 {
        appendDigits(nanos / 1000, 6, to: &output)
      } else {
        appendDigits(nanos, 9, to: &output)
      }
    }
    output.append(UInt8(ascii: "Z"))
  }

  private static func appendDigits(_ value: Int64, _ width: Int, to output: inout [UInt8]) {
    var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
    var rest = value
    var index = width - 1
    while index >= 0 {
      digits[index] = UInt8(ascii: "0") + UInt8(rest % 10)
      rest /= 10
      index -= 1
    }
    output.append(contentsOf: digits)
  }

  /// Year, month and day of a day count from 1970-01-01 (proleptic Gregorian; Howard Hinnant's
  /// civil_from_days).
  static func civil(days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }

  /// Days from 1970-01-01 to a civil date (Hinnant's days_from_civil).
  static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// An ISO 8601 date-time as Feast's writers send it: `YYYY-MM-DDTHH:MM:SS[.f{1,9}]` with an
  /// optional `Z` or `±HH:MM` (no zone: UTC, as Feast treats naive times), or a date alone.
  /// Returns (seconds, nanos) since the epoch; nil for anything else or out of range.
  static func parseISO8601(_ text: String) -> (Int64, Int32)? {
    let bytes = Array(text.utf8)
    var index = 0
    func number(_ count: Int) -> Int64? {
      guard index + count <= bytes.count else { return nil }
      var value: Int64 = 0
      for offset in 0..<count {
        let digit = bytes[index + offset] &- 48
        guard digit < 10 else { return nil }
        value = value * 10 + Int64(digit)
      }
      index += count
      return value
    }
    func take(_ byte: UInt8) -> Bool {
      guard index < bytes.count, bytes[index] == byte else { return false }
      index += 1
      return true
    }
    guard let year = number(4), year >= 1, take(UInt8(ascii: "-")), let month = number(2), (1...12).contains(month),
      take(UInt8(ascii: "-")), let day = number(2), day >= 1, day <= daysIn(month: month, year: year)
    else { return nil }
    var secondOfDay: Int64 = 0
    var nanos: Int64 = 0
    var offset: Int64 = 0
    if index < bytes.count {
      guard take(UInt8(ascii: "T")) || take(UInt8(ascii: " ")), let hour = number(2), hour < 24,
        take(UInt8(ascii: ":")), let minute = number(2), minute < 60
      else { return nil }
      var second: Int64 = 0
      if take(UInt8(ascii: ":")) {
        guard let value = number(2), value < 60 else { return nil }
        second = value
        if take(UInt8(ascii: ".")) {
          var digits = 0
          while index < bytes.count, bytes[index] &- 48 < 10 {
            if digits < 9 { nanos = nanos * 10 + Int64(bytes[index] - 48) }
            digits += 1
            index += 1
          }
          guard digits > 0 else { return nil }
          for _ in digits..<max(digits, 9) { nanos *= 10 }
        }
      }
      secondOfDay = hour * 3600 + minute * 60 + second
      if take(UInt8(ascii: "Z")) {
      } else if index < bytes.count {
        let sign: Int64
        if take(UInt8(ascii: "+")) { sign = 1 } else if take(UInt8(ascii: "-")) { sign = -1 } else { return nil }
        guard let hours = number(2), hours < 24 else { return nil }
        _ = take(UInt8(ascii: ":"))
        guard let minutes = number(2), minutes < 60 else { return nil }
        offset = sign * (hours * 3600 + minutes * 60)
      }
    }
    guard index == bytes.count else { return nil }
    let seconds = days(year: year, month: month, day: day) * 86_400 + secondOfDay - offset
    guard secondsRange.contains(seconds) else { return nil }
    return (seconds, Int32(nanos))
  }

  private static func daysIn(month: Int64, year: Int64) -> Int64 {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }
}
