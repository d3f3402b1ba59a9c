#if canImport(Glibc)
  import Glibc
#endif

/// Redis Cluster's key → slot mapping: CRC16-XMODEM of the key (or of its `{hash tag}`) modulo
/// 16384, exactly as the server computes it (`CLUSTER KEYSLOT`), so every key reaches the node
/// that owns it without a redirection.
public enum ClusterSlot {
  /// Slots in a cluster.
  public static let count = 16384

  /// The slot of `key`. When the key holds a `{` followed later by a `}` with at least one byte
  /// between them, only the bytes between the first `{` and the next `}` are hashed: keys that
  /// share a tag share a slot.
  public static func of<Key: Collection>(_ key: Key) -> UInt16 where Key.Element == UInt8, Key.Index == Int {
    if let slot = key.withContiguousStorageIfAvailable({ of(bytes: UnsafeRawBufferPointer($0)) }) { return slot }
    return Array(key).withUnsafeBytes { of(bytes: $0) }
  }

  /// The slot of the key in `bytes` (contiguous: the table walk without bounds checks, routing
  /// hashes the key of every command sent to a cluster).
  public static func of(bytes key: UnsafeRawBufferPointer) -> UInt16 {
    guard let base = key.baseAddress else { return 0 }  // the empty key: CRC 0
    var start = 0
    var end = key.count
    if let open = memchr(base, Int32(UInt8(ascii: "{")), key.count) {
      let afterOpen = base.distance(to: UnsafeRawPointer(open)) + 1
      if let close = memchr(base + afterOpen, Int32(UInt8(ascii: "}")), key.count - afterOpen) {
        let closeIndex = base.distance(to: UnsafeRawPointer(close))
        if closeIndex > afterOpen {
          start = afterOpen
          end = closeIndex
        }
      }
    }
    return table.withUnsafeBufferPointer { table in
      var crc: UInt16 = 0
      for index in start..<end {
        crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ key[index])]
      }
      return crc & UInt16(count - 1)
    }
  }

  /// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum the cluster specification
  /// names; `crc16("123456789") == 0x31C3`.
  public static func crc16<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
    var crc: UInt16 = 0
    for byte in bytes { crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)] }
    return crc
  }

  private static let table: [UInt16] = (0..<256).map { value -> UInt16 in
    var crc = UInt16(value) << 8
    for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
    return crc
  }
}
