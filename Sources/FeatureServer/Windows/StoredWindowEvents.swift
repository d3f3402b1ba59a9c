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

  static func decode(_ bytes: UnsafeRawBufferPointer) -> (time: Int64, value: Double, cutoff: Int64)? {
    guard bytes.count <= 96 else { return nil }
    var fields: [UnsafeRawBufferPointer] = []
    var start = 0
    for position in 0...bytes.count where position == bytes.count || bytes[position] == 32 {
      fields.append(UnsafeRawBufferPointer(rebasing: bytes[start..<position]))
      start = position + 1
    }
    guard fields.count == 3, let time = DecimalText.int64(fields[0]), let value = DecimalText.double(fields[1]),
      value.isFinite
    else { return nil }
    if fields[2].count == 1 && fields[2][0] == UInt8(ascii: "-") { return (time, value, Int64.min) }
    guard let cutoff = DecimalText.int64(fields[2]) else { return nil }
    return (time, value, cutoff)
  }
}
