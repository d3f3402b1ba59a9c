/// `feast.types.ValueType.Enum`: the type of a feature or a join key in a Feast registry.
public struct FeastValueType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  public static let invalid = FeastValueType(rawValue: 0)
  public static let bytes = FeastValueType(rawValue: 1)
  public static let string = FeastValueType(rawValue: 2)
  public static let int32 = FeastValueType(rawValue: 3)
  public static let int64 = FeastValueType(rawValue: 4)
  public static let double = FeastValueType(rawValue: 5)
  public static let float = FeastValueType(rawValue: 6)
  public static let bool = FeastValueType(rawValue: 7)
  public static let unixTimestamp = FeastValueType(rawValue: 8)
  public static let bytesList = FeastValueType(rawValue: 11)
  public static let stringList = FeastValueType(rawValue: 12)
  public static let int32List = FeastValueType(rawValue: 13)
  public static let int64List = FeastValueType(rawValue: 14)
  public static let doubleList = FeastValueType(rawValue: 15)
  public static let floatList = FeastValueType(rawValue: 16)
  public static let boolList = FeastValueType(rawValue: 17)
  public static let unixTimestampList = FeastValueType(rawValue: 18)
  public static let null = FeastValueType(rawValue: 19)

  /// Types a join key may have (what Feast's entity key serialisation accepts).
  var isKeyType: Bool { [.string, .bytes, .int32, .int64, .unixTimestamp].contains(self) }

  /// The element type of a list type.
  var element: FeastValueType? {
    (11...18).contains(rawValue) ? FeastValueType(rawValue: rawValue - 10) : nil
  }

  public var description: String {
    switch rawValue {
    case 0: "INVALID"
    case 1: "BYTES"
    case 2: "STRING"
    case 3: "INT32"
    case 4: "INT64"
    case 5: "DOUBLE"
    case 6: "FLOAT"
    case 7: "BOOL"
    case 8: "UNIX_TIMESTAMP"
    case 11...18: "\(FeastValueType(rawValue: rawValue - 10))_LIST"
    case 19: "NULL"
    default: "value type \(rawValue)"
    }
  }
}
