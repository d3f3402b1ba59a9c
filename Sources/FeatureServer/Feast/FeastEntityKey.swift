import Codecs

/// One column of entity values in a request, converted to its join key's type the way Feast's
/// `python_values_to_proto_values` converts them, and serialised as Feast's entity key does.
struct FeastEntityColumn {
  /// The join key (a request may name the entity instead; the join key is what is served back).
  let joinKey: String
  /// Per row: `u32 ValueType, u32 length, bytes`, the value's part of an entity key.
  var keyParts: [[UInt8]] = []
  /// Per row: the JSON of the converted value, served back in the join key's column.
  var echoes: [[UInt8]] = []
}

/// Feast's entity key serialisation, version 3 (`key_encoding_utils.serialize_entity_key`):
/// `u32 count`, then per join key sorted by name `u32 2 (STRING), u32 length, UTF-8 name`, then
/// per value in the same order `u32 ValueType, u32 length, bytes`. The Redis key is that
/// followed by the project name.
enum FeastEntityKey {
  /// The Redis key of one row of `view`: `parts` holds each join key's value part, in the view's
  /// join key order.
  static func redisKey(view: FeastFeatureView, parts: [[UInt8]?], project: [UInt8]) -> [UInt8] {
    var key: [UInt8] = []
    appendRedisKey(view: view, parts: parts, project: project, to: &key)
    return key
  }

  /// Appends the Redis key to `key` (a row's cache key is built in place behind its prefix).
  static func appendRedisKey(view: FeastFeatureView, parts: [[UInt8]?], project: [UInt8], to key: inout [UInt8]) {
    key.reserveCapacity(key.count + 64 + project.count)
    appendUInt32(UInt32(parts.count(where: { $0 != nil })), to: &key)
    for position in view.sortedJoinKeys where parts[position] != nil {
      let name = view.joinKeys[position].name.utf8
      appendUInt32(2, to: &key)
      appendUInt32(UInt32(name.count), to: &key)
      key.append(contentsOf: name)
    }
    for position in view.sortedJoinKeys { if let part = parts[position] { key.append(contentsOf: part) } }
    key.append(contentsOf: project)
  }

  static func appendUInt32(_ value: UInt32, to output: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
  }

  /// A value's key part and its JSON, converted to `type` (`.invalid`: inferred from the JSON,
  /// an integer as INT64 and a string as STRING, as Feast infers from Python types). Errors
  /// name `location`.
  static func convert(
    _ input: FeastEntityInput, to type: FeastValueType, location: @autoclosure () -> [String]
  ) throws(FeastRequestError)
    -> (part: [UInt8], echo: [UInt8])
  {
    var target = type
    if target == .invalid {
      switch input {
      case .integer: target = .int64
      case .string: target = .string
      default:
        throw FeastRequestError.invalid(
          location(), "an entity key must be an integer or a string, got \(describe(input))")
      }
    }
    var part: [UInt8] = []
    var echo: [UInt8] = []
    switch target {
    case .int64, .unixTimestamp:
      let value = try integer(input, in: Int64.min...Int64.max, type: target, location: location)
      appendUInt32(UInt32(target.rawValue), to: &part)
      appendUInt32(8, to: &part)
      withUnsafeBytes(of: value.littleEndian) { part.append(contentsOf: $0) }
      echo.append(contentsOf: String(value).utf8)
    case .int32:
      let value = try integer(input, in: Int64(Int32.min)...Int64(Int32.max), type: target, location: location)
      appendUInt32(3, to: &part)
      appendUInt32(4, to: &part)
      withUnsafeBytes(of: Int32(value).littleEndian) { part.append(contentsOf: $0) }
      echo.append(contentsOf: String(value).utf8)
    case .string:
      let text: String
      switch input {
      case .string(let value): text = value
      case .integer(let value): text = String(value)  // Feast's str(): 42 is the string "42"
      default:
        throw FeastRequestError.invalid(location(), "expected a string (STRING join key), got \(describe(input))")
      }
      appendUInt32(2, to: &part)
      appendUInt32(UInt32(text.utf8.count), to: &part)
      part.append(contentsOf: text.utf8)
      JSONText.appendString(text, to: &echo)
    case .bytes:
      guard case .string(let text) = input, let bytes = Base64.decode(text) else {
        throw FeastRequestError.invalid(location(), "expected base64 text (BYTES join key), got \(describe(input))")
      }
      appendUInt32(1, to: &part)
      appendUInt32(UInt32(bytes.count), to: &part)
      part.append(contentsOf: bytes)
      JSONText.appendString(text, to: &echo)
    default:
      throw FeastRequestError.invalid(location(), "join keys of type \(target) cannot be part of a Feast entity key")
    }
    return (part, echo)
  }

  /// An integer key value: a JSON integer, a number with no fraction, or a decimal string (Feast
  /// takes `int("42")`), within `range`.
  private static func integer(
    _ input: FeastEntityInput, in range: ClosedRange<Int64>, type: FeastValueType, location: () -> [String]
  ) throws(FeastRequestError) -> Int64 {
    let value: Int64?
    switch input {
    case .integer(let number): value = number
    case .number(let number):
      value = number.rounded(.towardZero) == number && abs(number) < 9.2e18 ? Int64(number) : nil
    case .string(let text): value = Int64(text)
    default: value = nil
    }
    guard let value else {
      throw FeastRequestError.invalid(location(), "expected an integer (\(type) join key), got \(describe(input))")
    }
    guard range.contains(value) else {
      throw FeastRequestError.invalid(location(), "Value out of range: \(value) (\(type) join key)")
    }
    return value
  }

  static func describe(_ input: FeastEntityInput) -> String {
    switch input {
    case .integer(let value): "the integer \(value)"
    case .number(let value): "the number \(value)"
    case .string(let value): "the string \(JSONText.quoted(String(value.prefix(64))))"
    case .bool(let value): "\(value)"
    case .null: "null"
    case .structured(let kind): kind
    }
  }
}
