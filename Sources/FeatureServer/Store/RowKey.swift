#if canImport(Glibc)
  import Glibc
#endif

/// The bytes that name one cached row: the Redis key for the native layout; a tag, the feature
/// view and the Redis key for Feast's (binary keys, several views per key). Hashed in bulk,
/// not byte by byte.
@_spi(Benchmarks) public struct RowKey: Hashable, Sendable {
  public let bytes: [UInt8]

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
  }

  public init(_ text: String) {
    bytes = Array(text.utf8)
  }

  public func hash(into hasher: inout Hasher) {
    bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
  }

  public static func == (a: RowKey, b: RowKey) -> Bool {
    // memcmp: the generic elementsEqual compares byte by byte.
    a.bytes.count == b.bytes.count
      && a.bytes.withUnsafeBytes { x in
        b.bytes.withUnsafeBytes { y in x.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
      }
  }

  /// For logs: the key as text when it is printable UTF-8, else as hex.
  var loggable: String {
    if let text = String(validating: bytes, as: UTF8.self),
      text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
    {
      return text
    }
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    for byte in bytes.prefix(128) {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 15)])
    }
    return "0x" + String(decoding: hex, as: UTF8.self)
  }
}
