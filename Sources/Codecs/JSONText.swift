/// JSON string escaping (RFC 8259 §7), the one implementation: error bodies, metrics labels and
/// the feature encoders all write strings through it.
public enum JSONText {
  /// Appends `value` as a quoted JSON string to a byte buffer. Strings with nothing to escape
  /// (the usual case) are copied in one go. Inlinable: the response encoders call it per field.
  @inlinable
  public static func appendString(_ value: String, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    var value = value
    value.withUTF8 { bytes in
      if bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        appendEscaped(bytes, to: &output)
      } else {
        output.append(contentsOf: bytes)
      }
    }
    output.append(UInt8(ascii: "\""))
  }

  /// Appends `value` as a quoted JSON string to text.
  public static func appendString(_ value: String, to output: inout String) {
    var bytes: [UInt8] = []
    appendString(value, to: &bytes)
    output += String(decoding: bytes, as: UTF8.self)
  }

  /// `value` as a quoted JSON string.
  public static func quoted(_ value: String) -> String {
    String(decoding: quotedBytes(value), as: UTF8.self)
  }

  /// `value` as the UTF-8 bytes of a quoted JSON string (for names rendered once, served often).
  public static func quotedBytes(_ value: String) -> [UInt8] {
    var bytes: [UInt8] = []
    appendString(value, to: &bytes)
    return bytes
  }

  @usableFromInline
  static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
    let hex = Array("0123456789abcdef".utf8)
    for byte in bytes {
      switch byte {
      case UInt8(ascii: "\""): output.append(contentsOf: [92, 34])
      case UInt8(ascii: "\\"): output.append(contentsOf: [92, 92])
      case 0x0A: output.append(contentsOf: [92, UInt8(ascii: "n")])
      case 0x0D: output.append(contentsOf: [92, UInt8(ascii: "r")])
      case 0x09: output.append(contentsOf: [92, UInt8(ascii: "t")])
      case 0..<0x20:
        output.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
      default: output.append(byte)
      }
    }
  }
}
