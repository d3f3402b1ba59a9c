/// Character classes of RFC 9110 §5.6, as tests on a byte. They run for every byte of every
/// request head, so they are bit tests and comparisons on constants (a lazily built table costs a
/// global's once-check and a bounds check per byte).
enum ByteClass {
  /// tchar: the characters of a token (method, field name, transfer coding): DIGIT, ALPHA and
  /// ``!#$%&'*+-.^_`|~``, as a 128-bit set.
  @inline(__always)
  static func isToken(_ byte: UInt8) -> Bool {
    if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> UInt64(byte) & 1 != 0 }
    if byte < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> UInt64(byte - 64) & 1 != 0 }
    return false
  }

  /// Bytes allowed in a field value: HTAB, SP, VCHAR and obs-text. No CR, LF, NUL or DEL.
  @inline(__always)
  static func isFieldValue(_ byte: UInt8) -> Bool {
    byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
  }

  /// Bytes allowed in a request target: visible ASCII only (RFC 3986 characters and a few that
  /// clients send unescaped); no spaces, controls or non-ASCII.
  @inline(__always)
  static func isTarget(_ byte: UInt8) -> Bool {
    byte >= 0x21 && byte <= 0x7E
  }
}

extension UInt8 {
  static let cr = UInt8(ascii: "\r")
  static let lf = UInt8(ascii: "\n")
  static let space = UInt8(ascii: " ")
  static let tab = UInt8(ascii: "\t")
  static let colon = UInt8(ascii: ":")
}
