import Codecs
import RedisPool

/// One feature view's fields of one Feast entity key, as HMGET returned them, rendered once into
/// the JSON Feast's Python server answers: each feature's value, and the event time. A class:
/// a response passes each row around once per feature, and one reference counts once.
@_spi(Benchmarks) public final class FeastRow: Sendable {
  /// The JSON of every feature's value, one after another; feature `i` ends at `ends[i]`.
  let rendered: [UInt8]
  let ends: [Int]
  /// The `_ts:<view>` field as (seconds, nanoseconds); (0, 0) when absent.
  let eventSeconds: Int64
  let eventNanos: Int32
  /// The event time as a quoted RFC 3339 JSON string.
  let renderedTimestamp: [UInt8]
  /// Fields whose bytes are not a value we can render (served as null, counted).
  let decodeErrors: Int
  /// The hash had at least one of the view's fields (false: no row for this entity key).
  let found: Bool

  var approximateBytes: Int { 96 + rendered.count + ends.count * 8 + renderedTimestamp.count }

  /// The JSON of feature `position`'s value.
  func value(_ position: Int) -> ArraySlice<UInt8> {
    let start = position == 0 ? 0 : ends[position - 1]
    return rendered[start..<ends[position]]
  }

  /// Decodes an HMGET reply of `view.features` then `_ts:<view>` (nil elements: absent fields).
  init(reply: RedisReplyView, view: FeastFeatureView) {
    var rendered: [UInt8] = []
    rendered.reserveCapacity(view.features.count * 12)
    var ends: [Int] = []
    ends.reserveCapacity(view.features.count)
    var errors = 0
    var found = false
    for position in view.features.indices {
      // Absent or empty: Feast parses nothing and serves None.
      if let element = reply[position], element.kind == .bulk, element.bytes.count > 0 {
        found = true
        if !FeastValueJSON.append(element.bytes, to: &rendered) { errors += 1 }
      } else {
        rendered.append(contentsOf: FeastValueJSON.nullText)
      }
      ends.append(rendered.count)
    }
    var seconds: Int64 = 0
    var nanos: Int32 = 0
    if let element = reply[view.features.count], element.kind == .bulk, element.bytes.count > 0 {
      found = true
      if let time = FeastTimestamp.decode(element.bytes) {
        (seconds, nanos) = time
      } else {
        errors += 1
      }
    }
    self.rendered = rendered
    self.ends = ends
    eventSeconds = seconds
    eventNanos = nanos
    renderedTimestamp = FeastTimestamp.renderJSON(seconds: seconds, nanos: nanos)
    decodeErrors = errors
    self.found = found
  }
}
