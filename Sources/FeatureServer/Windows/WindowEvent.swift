import Foundation
import RedisPool

/// One transaction of the event stream, as the window engine needs it.
public struct WindowEvent: Sendable, Equatable {
  /// The event's `transaction_id`: what makes a re-delivered event count once. Nil only where
  /// the schema does not require it (the replay tool).
  public var transactionID: String?
  /// The entity id the event belongs to, as text (`42` for the JSON number 42).
  public var key: String
  /// The key as the event wrote it, rendered as JSON (a number stays a number).
  public var keyJSON: [UInt8]
  /// Event time in microseconds since the epoch.
  public var time: Int64
  /// The aggregated field's value.
  public var value: Double
}

/// Why an event cannot be used. Such an event is counted, logged once per kind, acknowledged
/// and skipped: it never stops the stream.
public enum WindowEventProblem: String, Sendable, CaseIterable, Error {
  case invalidJSON = "invalid_json"
  case missingTransactionID = "missing_transaction_id"
  case missingKey = "missing_key"
  case invalidValue = "invalid_value"
  case invalidTime = "invalid_time"

  /// Said in logs and in a 400 of POST /events.
  public var explanation: String {
    switch self {
    case .invalidJSON: "not a JSON object of scalar members"
    case .missingTransactionID: "no transaction id (a non-empty string or an integer)"
    case .missingKey: "no entity id (a non-empty string or an integer)"
    case .invalidValue: "the value is missing or not a finite number"
    case .invalidTime: "the event time is missing or not RFC 3339 or epoch seconds between 1970 and 9999"
    }
  }
}

/// Which members of an event object the engine reads.
public struct WindowEventSchema: Sendable, Equatable {
  public var transactionIDField: String = "transaction_id"
  public var keyField: String
  public var valueField: String
  public var timeField: String = "event_timestamp"
  /// Whether an event without a transaction id is refused (live ingest needs it to stay
  /// idempotent; a replay of a file does not).
  public var requiresTransactionID: Bool = true

  public init(keyField: String, valueField: String) {
    self.keyField = keyField
    self.valueField = valueField
  }

  /// The longest id or key text accepted: ids are names, not documents.
  static let maxTextBytes = 256

  /// Parses one event: a JSON object whose members are scalars.
  public func parse(_ bytes: [UInt8]) -> Result<WindowEvent, WindowEventProblem> {
    guard let object = try? FlatJSONObject(parsing: bytes) else { return .failure(.invalidJSON) }
    return parse(object)
  }

  func parse(_ object: FlatJSONObject) -> Result<WindowEvent, WindowEventProblem> {
    let transactionID = Self.text(object[transactionIDField])
    if requiresTransactionID && transactionID == nil { return .failure(.missingTransactionID) }
    guard let key = Self.text(object[keyField]) else { return .failure(.missingKey) }
    var keyJSON: [UInt8] = []
    if case .number = object[keyField] {
      keyJSON = Array(key.utf8)
    } else {
      JSONWriter.appendString(key, to: &keyJSON)
    }
    let value: Double
    switch object[valueField] {
    case .number(let number, _) where number.isFinite: value = number
    case .string(let text):
      guard let parsed = Double(text), parsed.isFinite, text.utf8.count <= 64 else { return .failure(.invalidValue) }
      value = parsed
    default: return .failure(.invalidValue)
    }
    guard let time = Self.microseconds(object[timeField]) else { return .failure(.invalidTime) }
    return .success(WindowEvent(transactionID: transactionID, key: key, keyJSON: keyJSON, time: time, value: value))
  }

  /// Parses one stream entry's field/value pairs in place (inside the reply callback): the
  /// same rules as a JSON object whose members are all text (numbers and times read from it).
  func parse(fields: RedisReplyView) -> Result<WindowEvent, WindowEventProblem> {
    var transactionID: UnsafeRawBufferPointer? = nil
    var key: UnsafeRawBufferPointer? = nil
    var value: UnsafeRawBufferPointer? = nil
    var time: UnsafeRawBufferPointer? = nil
    var index = 0
    let count = fields.count
    while index + 1 < count {
      defer { index += 2 }
      guard let name = fields[index], let text = fields[index + 1], text.kind == .bulk else { continue }
      let nameBytes = name.bytes
      if nameBytes.elementsEqual(transactionIDField.utf8) {
        transactionID = text.bytes
      } else if nameBytes.elementsEqual(keyField.utf8) {
        key = text.bytes
      } else if nameBytes.elementsEqual(valueField.utf8) {
        value = text.bytes
      } else if nameBytes.elementsEqual(timeField.utf8) {
        time = text.bytes
      }
    }
    let id = transactionID.flatMap(Self.text)
    if requiresTransactionID && id == nil { return .failure(.missingTransactionID) }
    guard let keyText = key.flatMap(Self.text) else { return .failure(.missingKey) }
    guard let value, value.count <= 64, let number = DecimalText.double(value), number.isFinite else {
      return .failure(.invalidValue)
    }
    guard let time, let microseconds = Self.microseconds(text: time) else { return .failure(.invalidTime) }
    return .success(
      WindowEvent(
        transactionID: id, key: keyText, keyJSON: [], time: microseconds, value: number))
  }

  private static func text(_ bytes: UnsafeRawBufferPointer) -> String? {
    guard !bytes.isEmpty, bytes.count <= maxTextBytes else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Event time from text: epoch seconds or RFC 3339.
  static func microseconds(text bytes: UnsafeRawBufferPointer) -> Int64? {
    guard bytes.count <= 64 else { return nil }
    if let seconds = DecimalText.double(bytes) { return microseconds(seconds: seconds) }
    return microseconds(.string(String(decoding: bytes, as: UTF8.self)))
  }

  /// A non-empty string, or an integer written as one; nil for anything else.
  private static func text(_ value: FlatJSONObject.Value?) -> String? {
    switch value {
    case .string(let text) where !text.isEmpty && text.utf8.count <= maxTextBytes: return text
    case .number(let number, true) where abs(number) <= 9_007_199_254_740_992:
      // Only integers a double holds exactly: beyond 2^53 the text would not be the one written.
      return String(Int64(number))
    default: return nil
    }
  }

  /// Event time from epoch seconds (a number, or decimal text) or RFC 3339 text, in µs; nil
  /// outside 1970…9999 (so no conversion below can trap).
  static func microseconds(_ value: FlatJSONObject.Value?) -> Int64? {
    switch value {
    case .number(let seconds, _): return microseconds(seconds: seconds)
    case .string(let text):
      if let seconds = Double(text), text.utf8.count <= 64 { return microseconds(seconds: seconds) }
      guard let (seconds, nanos) = FeastTimestamp.parseISO8601(text), EventTime.validRange.contains(seconds) else {
        return nil
      }
      return seconds * 1_000_000 + Int64(nanos / 1000)
    default: return nil
    }
  }

  /// Rounded to the nearest microsecond: `1700000000.123` means .123000, not .122999….
  static func microseconds(seconds: Double) -> Int64? {
    guard seconds.isFinite, seconds >= Double(EventTime.validRange.lowerBound),
      seconds < Double(EventTime.validRange.upperBound) + 1
    else { return nil }
    return Int64((seconds * 1_000_000).rounded())
  }
}
