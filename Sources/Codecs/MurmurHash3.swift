/// MurmurHash3 x86_32 (Austin Appleby's reference algorithm), the hash Feast names Redis hash
/// fields with: the field of feature `f` in view `v` is the little-endian `UInt32` of
/// `x86_32("v:f", seed: 0)`.
public enum MurmurHash3 {
  public static func x86_32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    let c1: UInt32 = 0xcc9e_2d51
    let c2: UInt32 = 0x1b87_3593
    var hash = seed
    let blocks = bytes.count / 4
    for block in 0..<blocks {
      var k = bytes.loadUnaligned(fromByteOffset: block * 4, as: UInt32.self).littleEndian
      k &*= c1
      k = (k << 15) | (k >> 17)
      k &*= c2
      hash ^= k
      hash = (hash << 13) | (hash >> 19)
      hash = hash &* 5 &+ 0xe654_6b64
    }
    var tail: UInt32 = 0
    let tailStart = blocks * 4
    switch bytes.count & 3 {
    case 3:
      tail ^= UInt32(bytes[tailStart + 2]) << 16
      fallthrough
    case 2:
      tail ^= UInt32(bytes[tailStart + 1]) << 8
      fallthrough
    case 1:
      tail ^= UInt32(bytes[tailStart])
      tail &*= c1
      tail = (tail << 15) | (tail >> 17)
      tail &*= c2
      hash ^= tail
    default:
      break
    }
    hash ^= UInt32(truncatingIfNeeded: bytes.count)
    hash ^= hash >> 16
    hash &*= 0x85eb_ca6b
    hash ^= hash >> 13
    hash &*= 0xc2b2_ae35
    hash ^= hash >> 16
    return hash
  }

  public static func x86_32(_ text: String, seed: UInt32 = 0) -> UInt32 {
    var text = text
    return text.withUTF8 { x86_32(UnsafeRawBufferPointer($0), seed: seed) }
  }
}
