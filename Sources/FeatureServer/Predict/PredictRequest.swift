/// The body of `POST /predict`, validated. Ids may be JSON strings or integers; `timestamp` is
/// epoch seconds (a number) or RFC 3339 text ("2026-11-23T14:05:00Z"), and defaults to now.
struct PredictRequest {
  var transactionID: String
  var customerID: String
  var accountID: String
  var merchantID: String
  var amount: Double
  /// Epoch seconds.
  var timestamp: Int64
  var merchantCategory: String?
  var deviceKnown: Bool?
  var locationMatch: Bool?
  var transactionsLastHour: Int64?

  /// Why a body was refused: a message naming the field.
  struct Invalid: Error {
    let message: String
  }

  /// Validates `body`; `now` fills a missing timestamp.
  init(body: [UInt8], now: Int64) throws {
    let object: FlatJSONObject
    do {
      object = try FlatJSONObject(parsing: body)
    } catch let error as FlatJSONObject.SyntaxError {
      throw Invalid(message: error.description)
    }
    transactionID = try Self.identifier(object, "transaction_id")
    customerID = try Self.identifier(object, "customer_id")
    accountID = try Self.identifier(object, "account_id")
    merchantID = try Self.identifier(object, "merchant_id")
    switch object["amount"] {
    case .number(let value, _)?:
      guard value.isFinite else { throw Invalid(message: "field 'amount' must be finite") }
      guard value >= 0 else { throw Invalid(message: "field 'amount' must not be negative (got \(value))") }
      amount = value
    case nil, .null?: throw Invalid(message: "missing field 'amount'")
    case let other?: throw Invalid(message: "field 'amount' must be a number, not \(Self.kind(other))")
    }
    switch object["timestamp"] {
    case nil, .null?: timestamp = now
    case .number(let value, _)?:
      guard let seconds = EventTime.seconds(value) else {
        throw Invalid(message: "field 'timestamp' must be epoch seconds between 1970 and 9999")
      }
      timestamp = seconds
    case .string(let text)?:
      guard let seconds = RFC3339.epochSeconds(text) else {
        throw Invalid(message: "field 'timestamp' must be epoch seconds or RFC 3339 text like 2026-11-23T14:05:00Z")
      }
      guard EventTime.validRange.contains(seconds) else {
        throw Invalid(message: "field 'timestamp' must be between 1970 and 9999")
      }
      timestamp = seconds
    case let other?: throw Invalid(message: "field 'timestamp' must be a number or a string, not \(Self.kind(other))")
    }
    switch object["merchant_category"] {
    case nil, .null?: merchantCategory = nil
    case .string(let text)?: merchantCategory = text
    case let other?: throw Invalid(message: "field 'merchant_category' must be a string, not \(Self.kind(other))")
    }
    deviceKnown = try Self.flag(object, "device_known")
    locationMatch = try Self.flag(object, "location_match")
    switch object["transactions_last_hour"] {
    case nil, .null?: transactionsLastHour = nil
    case .number(let value, true)? where value >= 0 && value < 1e15: transactionsLastHour = Int64(value)
    case let other?:
      throw Invalid(message: "field 'transactions_last_hour' must be a non-negative integer, not \(Self.kind(other))")
    }
  }

  private static func identifier(_ object: FlatJSONObject, _ name: String) throws -> String {
    switch object[name] {
    case .string(let text)?:
      guard !text.isEmpty else { throw Invalid(message: "field '\(name)' must not be empty") }
      return text
    case .number(let value, true)? where value >= 0 && value < 1e15: return String(Int64(value))
    case nil, .null?: throw Invalid(message: "missing field '\(name)'")
    case let other?:
      throw Invalid(message: "field '\(name)' must be a string or a non-negative integer, not \(kind(other))")
    }
  }

  private static func flag(_ object: FlatJSONObject, _ name: String) throws -> Bool? {
    switch object[name] {
    case nil, .null?: return nil
    case .bool(let value)?: return value
    case let other?: throw Invalid(message: "field '\(name)' must be true or false, not \(kind(other))")
    }
  }

  private static func kind(_ value: FlatJSONObject.Value) -> String {
    switch value {
    case .string(let text): "the string \"\(text.prefix(40))\""
    case .number(let number, _): "the number \(number)"
    case .bool(let flag): "\(flag)"
    case .null: "null"
    case .nested: "an object or array"
    }
  }
}

/// RFC 3339 date-times: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
enum RFC3339 {
  /// Epoch seconds (fractions dropped), or nil when `text` is not an RFC 3339 date-time.
  static func epochSeconds(_ text: String) -> Int64? {
    let bytes = Array(text.utf8)
    guard bytes.count >= 20 else { return nil }
    func number(_ start: Int, _ count: Int) -> Int? {
      var value = 0
      for index in start..<(start + count) {
        let byte = bytes[index]
        guard byte >= 48 && byte <= 57 else { return nil }
        value = value * 10 + Int(byte - 48)
      }
      return value
    }
    guard let year = number(0, 4), bytes[4] == UInt8(ascii: "-"), let month = number(5, 2),
      bytes[7] == UInt8(ascii: "-"), let day = number(8, 2), bytes[10] | 0x20 == UInt8(ascii: "t"),
      let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"), let minute = number(14, 2),
      bytes[16] == UInt8(ascii: ":"), let second = number(17, 2)
    else { return nil }
    guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
      second < 61
    else { return nil }
    var index = 19
    if bytes[index] == UInt8(ascii: ".") {
      index += 1
      let start = index
      while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 { index += 1 }
      guard index > start else { return nil }
    }
    guard index < bytes.count else { return nil }
    var offset = 0
    switch bytes[index] {
    case UInt8(ascii: "Z"), UInt8(ascii: "z"):
      index += 1
    case UInt8(ascii: "+"), UInt8(ascii: "-"):
      guard index + 6 == bytes.count, let hours = number(index + 1, 2), bytes[index + 3] == UInt8(ascii: ":"),
        let minutes = number(index + 4, 2), hours < 24, minutes < 60
      else { return nil }
      offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "+") ? 1 : -1)
      index += 6
    default: return nil
    }
    guard index == bytes.count else { return nil }
    let days = daysFromCivil(year: year, month: month, day: day)
    return Int64(days * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offset)
  }

  private static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
  }

  /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
  private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146097 + dayOfEra - 719468
  }
}
