import RedisPool

/// An entity's recent events as the window store keeps them: one hash per entity, field =
/// transaction id, value = `<time µs> <value> <cutoff µs or ->`, where the cutoff is the
/// watermark in force when the event arrived (windows ending at or before it do not count it).
@_spi(Benchmarks) public struct StoredWindowEvents: Sendable {
  var times: [Int64] = []
  var values: [Double] = []
  /// `Int64.min` where no watermark was in force.
  var cutoffs: [Int64] = []
  /// Stored values that did not parse (counted and skipped).
  var decodeErrors = 0

  var approximateBytes: Int { 64 + times.count * 24 }

  init() {}

  /// Decodes an HVALS reply of the events hash in place, inside the reply callback.
  init(values reply: RedisReplyView) {
    let count = reply.count
    times.reserveCapacity(count)
    values.reserveCapacity(count)
    cutoffs.reserveCapacity(count)
    for index in 0..<count {
      guard let text = reply[index], text.kind == .bulk, let event = Self.decode(text.bytes) else {
        decodeErrors += 1
        continue
      }
      times.append(event.time)
      values.append(event.value)
      cutoffs.append(event.cutoff)
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
