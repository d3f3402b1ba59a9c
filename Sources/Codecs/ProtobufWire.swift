/// The protocol buffers wire format (varints, fixed-width and length-delimited fields), read
/// with bounds checks from bytes of any origin and written into byte buffers. For the few
/// messages on a hot path (Feast's `Value` and `Timestamp` in Redis); whole messages off it are
/// swift-protobuf's job.
public enum ProtobufWire {
  /// The wire types of a field key.
  public enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
  }

  /// Reads fields one by one. Every read checks the bounds; a malformed message makes `next()`
  /// return nil and sets `failed`, never traps.
  public struct Reader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var position = 0
    /// The message is malformed (a truncated field, an overlong varint, a group or a reserved wire type).
    public private(set) var failed = false

    public init(_ bytes: UnsafeRawBufferPointer) {
      self.bytes = bytes
    }

    /// One field: its number, wire type and payload.
    public struct Field {
      public let number: UInt32
      public let wireType: WireType
      /// The value of a varint field, or the bits of a fixed-width one.
      public let scalar: UInt64
      /// The payload of a length-delimited field.
      public let payload: UnsafeRawBufferPointer
    }

    /// The next field; nil at the end of the message or when it is malformed (see `failed`).
    public mutating func next() -> Field? {
      guard position < bytes.count, !failed else { return nil }
      guard let key = varint(), key >> 3 > 0, key >> 3 <= UInt64(UInt32.max >> 3),
        let wireType = WireType(rawValue: UInt8(key & 7))
      else {
        failed = true
        return nil
      }
      let number = UInt32(key >> 3)
      switch wireType {
      case .varint:
        guard let value = varint() else { return fail() }
        return Field(
          number: number, wireType: wireType, scalar: value, payload: UnsafeRawBufferPointer(rebasing: bytes[0..<0]))
      case .fixed64:
        guard bytes.count - position >= 8 else { return fail() }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self).littleEndian
        position += 8
        return Field(
          number: number, wireType: wireType, scalar: value, payload: UnsafeRawBufferPointer(rebasing: bytes[0..<0]))
      case .fixed32:
        guard bytes.count - position >= 4 else { return fail() }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
        position += 4
        return Field(
          number: number, wireType: wireType, scalar: UInt64(value),
          payload: UnsafeRawBufferPointer(rebasing: bytes[0..<0]))
      case .lengthDelimited:
        guard let length = varint(), length <= UInt64(bytes.count - position) else { return fail() }
        let end = position + Int(length)
        let payload = UnsafeRawBufferPointer(rebasing: bytes[position..<end])
        position = end
        return Field(number: number, wireType: wireType, scalar: length, payload: payload)
      }
    }

    private mutating func fail() -> Field? {
      failed = true
      return nil
    }

    /// A base-128 varint of at most 10 bytes; nil when truncated or longer.
    private mutating func varint() -> UInt64? {
      var result: UInt64 = 0
      var shift: UInt64 = 0
      while position < bytes.count && shift < 70 {
        let byte = bytes[position]
        position += 1
        result |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return result }
        shift += 7
      }
      return nil
    }

    /// Varints packed one after another (a packed repeated field); nil if malformed.
    public static func packedVarints(_ payload: UnsafeRawBufferPointer) -> [UInt64]? {
      var reader = Reader(payload)
      var values: [UInt64] = []
      while reader.position < payload.count {
        guard let value = reader.varint() else { return nil }
        values.append(value)
      }
      return values
    }
  }

  // MARK: Writing

  public static func appendVarint(_ value: UInt64, to output: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
      output.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    output.append(UInt8(value))
  }

  public static func appendKey(_ number: UInt32, _ wireType: WireType, to output: inout [UInt8]) {
    appendVarint(UInt64(number) << 3 | UInt64(wireType.rawValue), to: &output)
  }

  /// A varint field (int32 and int64 alike: negative values take ten bytes, as protobuf writes them).
  public static func appendVarintField(_ number: UInt32, _ value: Int64, to output: inout [UInt8]) {
    appendKey(number, .varint, to: &output)
    appendVarint(UInt64(bitPattern: value), to: &output)
  }

  public static func appendFixed64Field(_ number: UInt32, _ bits: UInt64, to output: inout [UInt8]) {
    appendKey(number, .fixed64, to: &output)
    withUnsafeBytes(of: bits.littleEndian) { output.append(contentsOf: $0) }
  }

  public static func appendFixed32Field(_ number: UInt32, _ bits: UInt32, to output: inout [UInt8]) {
    appendKey(number, .fixed32, to: &output)
    withUnsafeBytes(of: bits.littleEndian) { output.append(contentsOf: $0) }
  }

  public static func appendLengthDelimitedField(_ number: UInt32, _ payload: [UInt8], to output: inout [UInt8]) {
    appendKey(number, .lengthDelimited, to: &output)
    appendVarint(UInt64(payload.count), to: &output)
    output.append(contentsOf: payload)
  }
}
