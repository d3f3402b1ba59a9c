/// What tells HTTP/2 from HTTP/1.1 on a shared port, and the pieces of an `Upgrade: h2c`.
enum HTTP2Preface {
  /// The client connection preface (RFC 9113 §3.4).
  static let magic = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  /// What the first bytes of a connection say.
  enum Verdict {
    case http2
    case http1
    /// Too few bytes to tell: they still match the start of the preface.
    case undecided
  }

  static func classify(_ bytes: UnsafeRawBufferPointer) -> Verdict {
    let count = min(bytes.count, magic.count)
    for index in 0..<count where bytes[index] != magic[index] { return .http1 }
    return count == magic.count ? .http2 : .undecided
  }

  /// The SETTINGS payload carried by an `HTTP2-Settings` header (base64url, RFC 7540 §3.2.1),
  /// or nil when it is not valid base64url or not a whole number of 6-byte entries.
  static func settingsPayload(_ header: String) -> [UInt8]? {
    var bits: UInt32 = 0
    var bitCount = 0
    var output: [UInt8] = []
    for byte in header.utf8 {
      let value: UInt8
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
      case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
      case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
      case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
      case UInt8(ascii: "="): continue
      default: return nil
      }
      bits = bits << 6 | UInt32(value)
      bitCount += 6
      if bitCount >= 8 {
        bitCount -= 8
        output.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
      }
    }
    guard output.count % 6 == 0, output.count <= 6 * 64 else { return nil }
    return output
  }
}
