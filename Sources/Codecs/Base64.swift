/// Standard base64 (RFC 4648 §4, with padding): how Feast's JSON carries bytes values.
public enum Base64 {
  @usableFromInline
  static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  /// Appends the encoding of `bytes` (no quotes).
  public static func append(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
    output.reserveCapacity(output.count + (bytes.count + 2) / 3 * 4)
    var index = 0
    while index + 3 <= bytes.count {
      let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
      output.append(alphabet[Int(chunk >> 18)])
      output.append(alphabet[Int(chunk >> 12 & 63)])
      output.append(alphabet[Int(chunk >> 6 & 63)])
      output.append(alphabet[Int(chunk & 63)])
      index += 3
    }
    let left = bytes.count - index
    if left > 0 {
      let chunk = UInt32(bytes[index]) << 16 | (left == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
      output.append(alphabet[Int(chunk >> 18)])
      output.append(alphabet[Int(chunk >> 12 & 63)])
      output.append(left == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
      output.append(UInt8(ascii: "="))
    }
  }

  /// The bytes `text` encodes; nil unless it is canonical padded base64 (whitespace and the
  /// URL-safe alphabet are refused too, so one value has one spelling).
  public static func decode(_ text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 4 == 0 else { return nil }
    var output: [UInt8] = []
    output.reserveCapacity(utf8.count / 4 * 3)
    var index = 0
    while index < utf8.count {
      var chunk: UInt32 = 0
      var padding = 0
      for offset in 0..<4 {
        let byte = utf8[index + offset]
        let value: UInt32
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): value = 62
        case UInt8(ascii: "/"): value = 63
        case UInt8(ascii: "=") where index + 4 == utf8.count && offset >= 2:
          padding += 1
          value = 0
        default: return nil
        }
        // Padding only at the very end ("x==" or "xy="), never followed by data.
        if padding > 0 && byte != UInt8(ascii: "=") { return nil }
        chunk = chunk << 6 | value
      }
      output.append(UInt8(truncatingIfNeeded: chunk >> 16))
      if padding < 2 { output.append(UInt8(truncatingIfNeeded: chunk >> 8)) }
      if padding < 1 { output.append(UInt8(truncatingIfNeeded: chunk)) }
      // Canonical: the bits the padding hides are zero.
      if padding == 1 && chunk & 0xFF != 0 { return nil }
      if padding == 2 && chunk & 0xFFFF != 0 { return nil }
      index += 4
    }
    return output
  }
}
