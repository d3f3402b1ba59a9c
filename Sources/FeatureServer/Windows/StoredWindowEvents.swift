import RedisPool

/// An entity's recent events as the window store keeps them: one hash per entity, field =
/// transaction id, value = `<time µs> <value> <cutoff µs or ->`, where the cutoff is the
/// watermark in force when the event arrived (windows ending at or before it do not count it).
@_spi(Benchmarks) public struct StoredWindowEvents: Sendable {
  /// Rows `0..<count` of `columns` are these events.
  private var columns = EventColumns.empty
  private(set) var count = 0
  /// Stored values that did not parse (counted and skipped).
  var decodeErrors = 0

  var approximateBytes: Int { 64 + columns.capacity * 24 }

  /// The hash's fields these were read from (HLEN at the read), bad ones included.
  var fields: Int { count + decodeErrors }

  /// One stored event.
  struct Event: Sendable, Equatable {
    var time: Int64
    var value: Double
    /// `Int64.min` where no watermark was in force.
    var cutoff: Int64

    init(time: Int64, value: Double, cutoff: Int64) {
      self.time = time
      self.value = value
      self.cutoff = cutoff
    }

    init(_ decoded: (time: Int64, value: Double, cutoff: Int64)) {
      self.init(time: decoded.time, value: decoded.value, cutoff: decoded.cutoff)
    }
  }

  init() {}

  init(_ events: [Event]) {
    columns = EventColumns(capacity: events.count)
    for event in events { append(event) }
  }

  /// The event at `index` (`0..<count`).
  subscript(index: Int) -> Event {
    precondition(index >= 0 && index < count)
    return Event(time: columns.times[index], value: columns.values[index], cutoff: columns.cutoffs[index])
  }

  /// Calls `body` with the time, value and cutoff of every event, in stored order.
  @inline(__always)
  func forEach(_ body: (_ time: Int64, _ value: Double, _ cutoff: Int64) -> Void) {
    withExtendedLifetime(columns) {
      for index in 0..<count { body(columns.times[index], columns.values[index], columns.cutoffs[index]) }
    }
  }

  /// Adds an event: in place when these are the newest version of their columns and there is
  /// room (see `EventColumns`), else into new columns with room for as many again.
  mutating func append(_ event: Event) {
    if count != columns.used || count == columns.capacity {
      columns = EventColumns(copying: count, of: columns, capacity: max(16, count * 2))
    }
    columns.append(time: event.time, value: event.value, cutoff: event.cutoff)
    count += 1
  }

  /// Decodes an HVALS reply of the events hash in place, inside the reply callback. Room for a
  /// few more events than the reply holds: the stream consumer may add some (write-through).
  init(values reply: RedisReplyView) {
    let replyCount = reply.count
    columns = EventColumns(capacity: replyCount + min(64, replyCount / 4 + 4))
    for index in 0..<replyCount {
      guard let text = reply[index], text.kind == .bulk, let event = Self.decode(text.bytes) else {
        decodeErrors += 1
        continue
      }
      columns.append(time: event.time, value: event.value, cutoff: event.cutoff)
      count += 1
    }
  }

  /// The stored text of one event.
  static func encode(time: Int64, value: Double, cutoff: Int64?) -> [UInt8] {
    // `description` is the shortest text that reads back as the same Double.
    Array("\(time) \(value) \(cutoff.map(String.init) ?? "-")".utf8)
  }

  /// The event in a stored value, or nil when it is not `<time> <value> <cutoff or ->` with a
  /// time and cutoff within the event times the engine accepts (outside data: nothing here may
  /// reach an overflowing operation later).
  static func decode(_ bytes: UnsafeRawBufferPointer) -> (time: Int64, value: Double, cutoff: Int64)? {
    guard bytes.count <= 96, let first = bytes.firstIndex(of: 32) else { return nil }
    guard let second = bytes[(first + 1)...].firstIndex(of: 32) else { return nil }
    let timeBytes = UnsafeRawBufferPointer(rebasing: bytes[..<first])
    let valueBytes = UnsafeRawBufferPointer(rebasing: bytes[(first + 1)..<second])
    let cutoffBytes = UnsafeRawBufferPointer(rebasing: bytes[(second + 1)...])
    guard let time = DecimalText.int64(timeBytes), validTimes.contains(time),
      let value = DecimalText.double(valueBytes), value.isFinite
    else { return nil }
    if cutoffBytes.count == 1 && cutoffBytes[0] == UInt8(ascii: "-") { return (time, value, Int64.min) }
    guard let cutoff = DecimalText.int64(cutoffBytes), validCutoffs.contains(cutoff) else { return nil }
    return (time, value, cutoff)
  }

  /// Event times in µs: 1970 to 9999, as `EventTime.validRange`.
  static let validTimes: ClosedRange<Int64> = 0...(EventTime.validRange.upperBound * 1_000_000 + 999_999)
  /// A watermark is an event time minus a delay of at most a week (the registry's bound).
  static let validCutoffs: ClosedRange<Int64> = (-7 * 86_400 * 1_000_000)...validTimes.upperBound
}
