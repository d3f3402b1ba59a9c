/// Character classes of RFC 9110 §5.6, as 256-entry tables indexed by byte.
enum ByteClass {
  /// tchar: the characters of a token (method, field name, transfer coding).
  static let token: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = true }
    for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = true }
    for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = true }
    for byte in "!#$%&'*+-.^_`|~".utf8 { table[Int(byte)] = true }
    return table
  }()

  /// Bytes allowed in a field value: HTAB, SP, VCHAR and obs-text. No CR, LF, NUL or DEL.
  static let fieldValue: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    table[0x09] = true
    for byte in 0x20...0x7E { table[byte] = true }
    for byte in 0x80...0xFF { table[byte] = true }
    return table
  }()

  /// Bytes allowed in a request target: visible ASCII only (RFC 3986 characters and a few that
  /// clients send unescaped); no spaces, controls or non-ASCII.
  static let target: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    for byte in 0x21...0x7E { table[byte] = true }
    return table
  }()
}

extension UInt8 {
  static let cr = UInt8(ascii: "\r")
  static let lf = UInt8(ascii: "\n")
  static let space = UInt8(ascii: " ")
  static let tab = UInt8(ascii: "\t")
  static let colon = UInt8(ascii: ":")
}
