import CNghttp2
import Codecs

/// Response header fields gathered into one byte buffer, handed to nghttp2 as `nghttp2_nv`
/// entries (nghttp2 copies them during the submit call).
struct HTTP2HeaderBlock {
  private var bytes: [UInt8] = []
  private var fields: [(nameStart: Int, nameCount: Int, valueStart: Int, valueCount: Int)] = []

  init() {
    bytes.reserveCapacity(256)
  }

  mutating func add(_ name: String, _ value: String) {
    let nameStart = bytes.count
    bytes.append(contentsOf: name.utf8)
    let valueStart = bytes.count
    bytes.append(contentsOf: value.utf8)
    fields.append((nameStart, valueStart - nameStart, valueStart, bytes.count - valueStart))
  }

  /// Headers HTTP/2 forbids in a response (RFC 9113 §8.2.2), and those the server sets itself.
  static func isConnectionSpecific(_ name: String) -> Bool {
    for forbidden in [
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "content-length", "date",
    ]
    where ASCII.equalsIgnoringCase(name, forbidden) {
      return true
    }
    return false
  }

  /// Calls `body` with the `nghttp2_nv` array, valid only during the call.
  func withNameValues<Result>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> Result) -> Result {
    var copy = bytes
    return copy.withUnsafeMutableBufferPointer { buffer in
      let base = buffer.baseAddress!
      let entries = fields.map { field in
        nghttp2_nv(
          name: base + field.nameStart, value: base + field.valueStart, namelen: field.nameCount,
          valuelen: field.valueCount, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
      }
      return entries.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
  }
}
