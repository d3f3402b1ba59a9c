#if canImport(Glibc)
  import Glibc
#endif

/// The bytes that name one cached row: the Redis key for the native layout; a tag, the feature
/// view and the Redis key for Feast's (binary keys, several views per key).
///
/// The bytes are hashed once, when the key is made (in bulk, with the process's seeded hasher,
/// so ids an attacker picks cannot be made to collide): the shared cache picks a shard with that
/// hash and the shard's dictionary hashes it again, and a request makes a key once but looks it
/// up two or three times.
@_spi(Benchmarks) public struct RowKey: Hashable, Sendable {
  public let bytes: [UInt8]
  /// Hasher's value of `bytes`.
  let hashCode: Int

  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
    var hasher = Hasher()
    bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    hashCode = hasher.finalize()
  }

  public init(_ text: String) {
    self.init(Array(text.utf8))
  }

  public func hash(into hasher: inout Hasher) {
    hasher.combine(hashCode)
  }

  public static func == (a: RowKey, b: RowKey) -> Bool {
    // memcmp: the generic elementsEqual compares byte by byte.
    a.hashCode == b.hashCode && a.bytes.count == b.bytes.count
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
