import Codecs

/// A JSON value from a write request (`df` of `/write-to-online-store` or `/push`) as a
/// serialised `feast.types.Value` of the feature's type, the bytes Feast's own writer stores.
enum FeastValueEncoder {
  /// Why a value does not fit its feature's type.
  struct Mismatch: Error {
    let message: String
  }

  /// The serialised Value; empty bytes (no field set, read back as null) for null and NaN, as
  /// Feast stores missing values.
  static func encode(_ value: JSONValue, as type: FeastValueType) throws(Mismatch) -> [UInt8] {
    if case .null = value { return [] }
    if case .number(let number, _) = value, number.isNaN { return [] }
    var output: [UInt8] = []
    switch type {
    case .int64, .unixTimestamp:
      ProtobufWire.appendVarintField(UInt32(type.rawValue), try integer(value, type: type), to: &output)
    case .int32:
      let number = try integer(value, type: type)
      guard let small = Int32(exactly: number) else { throw Mismatch(message: "Value out of range: \(number) (INT32)") }
      ProtobufWire.appendVarintField(3, Int64(small), to: &output)
    case .double:
      ProtobufWire.appendFixed64Field(5, try double(value, type: type).bitPattern, to: &output)
    case .float:
      ProtobufWire.appendFixed32Field(6, Float(try double(value, type: type)).bitPattern, to: &output)
    case .bool:
      guard case .bool(let flag) = value else { throw mismatch(value, type) }
      ProtobufWire.appendVarintField(7, flag ? 1 : 0, to: &output)
    case .string:
      guard case .string(let text) = value else { throw mismatch(value, type) }
      ProtobufWire.appendLengthDelimitedField(2, Array(text.utf8), to: &output)
    case .bytes:
      guard case .string(let text) = value, let bytes = Base64.decode(text) else { throw mismatch(value, type) }
      ProtobufWire.appendLengthDelimitedField(1, bytes, to: &output)
    default:
      guard let element = type.element else {
        throw Mismatch(message: "features of type \(type) cannot be written through featureserver")
      }
      guard case .array(let elements) = value else { throw mismatch(value, type) }
      var list: [UInt8] = []
      switch element {
      case .int64, .unixTimestamp, .int32, .bool:
        // Packed varints, as protobuf writes repeated scalars.
        var packed: [UInt8] = []
        for item in elements {
          guard !isNull(item) else { throw Mismatch(message: "a \(type) may not hold null") }
          switch element {
          case .bool:
            guard case .bool(let flag) = item else { throw mismatch(item, element) }
            ProtobufWire.appendVarint(flag ? 1 : 0, to: &packed)
          case .int32:
            let number = try integer(item, type: element)
            guard let small = Int32(exactly: number) else {
              throw Mismatch(message: "Value out of range: \(number) (INT32)")
            }
            ProtobufWire.appendVarint(UInt64(bitPattern: Int64(small)), to: &packed)
          default:
            ProtobufWire.appendVarint(UInt64(bitPattern: try integer(item, type: element)), to: &packed)
          }
        }
        if !packed.isEmpty { ProtobufWire.appendLengthDelimitedField(1, packed, to: &list) }
      case .double, .float:
        var packed: [UInt8] = []
        for item in elements {
          let number = try double(item, type: element)
          if element == .double {
            withUnsafeBytes(of: number.bitPattern.littleEndian) { packed.append(contentsOf: $0) }
          } else {
            withUnsafeBytes(of: Float(number).bitPattern.littleEndian) { packed.append(contentsOf: $0) }
          }
        }
        if !packed.isEmpty { ProtobufWire.appendLengthDelimitedField(1, packed, to: &list) }
      case .string:
        for item in elements {
          guard case .string(let text) = item else { throw mismatch(item, element) }
          ProtobufWire.appendLengthDelimitedField(1, Array(text.utf8), to: &list)
        }
      case .bytes:
        for item in elements {
          guard case .string(let text) = item, let bytes = Base64.decode(text) else { throw mismatch(item, element) }
          ProtobufWire.appendLengthDelimitedField(1, bytes, to: &list)
        }
      default:
        throw Mismatch(message: "features of type \(type) cannot be written through featureserver")
      }
      ProtobufWire.appendLengthDelimitedField(UInt32(type.rawValue), list, to: &output)
    }
    return output
  }

  private static func isNull(_ value: JSONValue) -> Bool {
    if case .null = value { return true }
    return false
  }

  private static func mismatch(_ value: JSONValue, _ type: FeastValueType) -> Mismatch {
    Mismatch(message: "expected a value of type \(type), got \(value.kind)")
  }

  /// An integer: a JSON integer, a number without a fraction, or (for UNIX_TIMESTAMP) an ISO
  /// 8601 date-time, taken as its epoch seconds.
  private static func integer(_ value: JSONValue, type: FeastValueType) throws(Mismatch) -> Int64 {
    switch value {
    case .number(_, let integer?): return integer
    case .number(let number, nil) where number.rounded(.towardZero) == number && abs(number) < 9.2e18:
      return Int64(number)
    case .string(let text) where type == .unixTimestamp:
      guard let (seconds, _) = FeastTimestamp.parseISO8601(text) else {
        throw Mismatch(
          message: "expected epoch seconds or an ISO 8601 date-time (UNIX_TIMESTAMP), got '\(text.prefix(64))'")
      }
      return seconds
    default:
      throw mismatch(value, type)
    }
  }

  private static func double(_ value: JSONValue, type: FeastValueType) throws(Mismatch) -> Double {
    guard case .number(let number, _) = value else { throw mismatch(value, type) }
    return number
  }
}
