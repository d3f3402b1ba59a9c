import Codecs

/// Renders a serialised `feast.types.Value` as the JSON that Feast's Python feature server
/// answers for it (`feature_server_utils.convert_response_to_dict`): null for an empty value;
/// numbers as Python prints them, with "NaN", "Infinity" and "-Infinity" as strings; bytes as
/// base64; lists, sets and nested values as arrays; maps and structs as objects.
///
/// Decoded by hand, not through generated code: this runs for every value of every row read
/// from Redis, and needs no message objects, only the bytes of the one field set.
enum FeastValueJSON {
  /// Nested lists and maps deeper than this are refused as malformed.
  static let maxDepth = 16

  /// Appends the JSON of the value in `bytes`; false (and `null` appended) when the bytes are
  /// not a value we can render (malformed protobuf, invalid UTF-8, too deep, a zoned timestamp).
  @discardableResult
  static func append(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8], depth: Int = 0) -> Bool {
    let start = output.count
    if render(bytes, to: &output, depth: depth) { return true }
    output.removeSubrange(start...)
    output.append(contentsOf: nullText)
    return false
  }

  static let nullText: [UInt8] = Array("null".utf8)

  /// The field of the `val` oneof that is set: the last one on the wire, as protobuf parsers take it.
  private static func selectedField(_ bytes: UnsafeRawBufferPointer) -> ProtobufWire.Reader.Field?? {
    var reader = ProtobufWire.Reader(bytes)
    var selected: ProtobufWire.Reader.Field? = nil
    while let field = reader.next() {
      if (1...48).contains(field.number) && field.number != 9 && field.number != 10 && field.number != 30
        && field.number != 31
      {
        selected = field
      }
    }
    if reader.failed { return .none }
    return .some(selected)
  }

  private static func render(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8], depth: Int) -> Bool {
    guard depth <= maxDepth, case .some(let selected) = selectedField(bytes) else { return false }
    guard let field = selected else {
      output.append(contentsOf: nullText)  // no field set: Python's None
      return true
    }
    switch (field.number, field.wireType) {
    case (1, .lengthDelimited):  // bytes_val
      output.append(UInt8(ascii: "\""))
      Base64.append(field.payload, to: &output)
      output.append(UInt8(ascii: "\""))
      return true
    case (2, .lengthDelimited), (32, .lengthDelimited), (36, .lengthDelimited), (37, .lengthDelimited),
      (44, .lengthDelimited):  // string, json, uuid, time_uuid, decimal: text
      return appendString(field.payload, to: &output)
    case (3, .varint):  // int32_val
      appendInteger(Int64(Int32(truncatingIfNeeded: field.scalar)), to: &output)
      return true
    case (4, .varint), (8, .varint):  // int64_val, unix_timestamp_val
      appendInteger(Int64(bitPattern: field.scalar), to: &output)
      return true
    case (5, .fixed64):  // double_val
      appendDouble(Double(bitPattern: field.scalar), to: &output)
      return true
    case (6, .fixed32):  // float_val: Python widens it to a double
      appendDouble(Double(Float(bitPattern: UInt32(truncatingIfNeeded: field.scalar))), to: &output)
      return true
    case (7, .varint):  // bool_val
      output.append(contentsOf: field.scalar != 0 ? trueText : falseText)
      return true
    case (19, .varint):  // null_val
      output.append(contentsOf: nullText)
      return true
    case (11, .lengthDelimited), (22, .lengthDelimited):  // bytes list / set
      return appendList(field.payload, to: &output) { element, output in
        guard element.wireType == .lengthDelimited else { return false }
        output.append(UInt8(ascii: "\""))
        Base64.append(element.payload, to: &output)
        output.append(UInt8(ascii: "\""))
        return true
      }
    case (12, .lengthDelimited), (23, .lengthDelimited), (33, .lengthDelimited), (38...41, .lengthDelimited),
      (45, .lengthDelimited), (46, .lengthDelimited):  // lists and sets of text
      return appendList(field.payload, to: &output) { element, output in
        element.wireType == .lengthDelimited && appendString(element.payload, to: &output)
      }
    case (13, .lengthDelimited), (24, .lengthDelimited):  // int32 list / set
      return appendVarintList(field.payload, to: &output) {
        appendInteger(Int64(Int32(truncatingIfNeeded: $0)), to: &$1)
      }
    case (14, .lengthDelimited), (25, .lengthDelimited), (18, .lengthDelimited), (29, .lengthDelimited):
      return appendVarintList(field.payload, to: &output) { appendInteger(Int64(bitPattern: $0), to: &$1) }
    case (17, .lengthDelimited), (28, .lengthDelimited):  // bool list / set
      return appendVarintList(field.payload, to: &output) { $1.append(contentsOf: $0 != 0 ? trueText : falseText) }
    case (15, .lengthDelimited), (26, .lengthDelimited):  // double list / set
      return appendFixedList(field.payload, width: 8, to: &output) { appendDouble(Double(bitPattern: $0), to: &$1) }
    case (16, .lengthDelimited), (27, .lengthDelimited):  // float list / set
      return appendFixedList(field.payload, width: 4, to: &output) {
        appendDouble(Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0))), to: &$1)
      }
    case (42, .lengthDelimited), (43, .lengthDelimited):  // list_val, set_val: RepeatedValue
      return appendList(field.payload, to: &output) { element, output in
        element.wireType == .lengthDelimited && render(element.payload, to: &output, depth: depth + 1)
      }
    case (20, .lengthDelimited), (34, .lengthDelimited):  // map_val, struct_val
      return appendMap(field.payload, to: &output, depth: depth)
    case (21, .lengthDelimited), (35, .lengthDelimited):  // map_list_val, struct_list_val
      return appendList(field.payload, to: &output) { element, output in
        element.wireType == .lengthDelimited && appendMap(element.payload, to: &output, depth: depth + 1)
      }
    case (47, .lengthDelimited):  // scalar_map_val: Feast's server answers None for it too
      output.append(contentsOf: nullText)
      return true
    default:
      // zoned_timestamp_val (48), or a field with the wrong wire type.
      return false
    }
  }

  private static let trueText: [UInt8] = Array("true".utf8)
  private static let falseText: [UInt8] = Array("false".utf8)

  static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
    DecimalDigits.append(value, to: &output)
  }

  /// Python's `repr` of a float, which the standard library's shortest round-trip text equals;
  /// non-finite values as the protobuf JSON strings.
  static func appendDouble(_ value: Double, to output: inout [UInt8]) {
    if value.isFinite {
      output.append(contentsOf: value.description.utf8)
    } else if value.isNaN {
      output.append(contentsOf: #""NaN""#.utf8)
    } else {
      output.append(contentsOf: value > 0 ? #""Infinity""#.utf8 : #""-Infinity""#.utf8)
    }
  }

  /// A JSON string from UTF-8 bytes; false when they are not valid UTF-8 (protobuf strings must be).
  static func appendString(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) -> Bool {
    guard let text = String(validating: bytes, as: UTF8.self) else { return false }
    JSONText.appendString(text, to: &output)
    return true
  }

  /// `[a,b,...]` from the elements (`repeated ... val = 1`) of a list message.
  private static func appendList(
    _ payload: UnsafeRawBufferPointer, to output: inout [UInt8],
    element: (ProtobufWire.Reader.Field, inout [UInt8]) -> Bool
  ) -> Bool {
    var reader = ProtobufWire.Reader(payload)
    output.append(UInt8(ascii: "["))
    var first = true
    while let field = reader.next() {
      guard field.number == 1 else { continue }
      if !first { output.append(UInt8(ascii: ",")) }
      first = false
      guard element(field, &output) else { return false }
    }
    output.append(UInt8(ascii: "]"))
    return !reader.failed
  }

  /// A list of varint scalars, packed or not.
  private static func appendVarintList(
    _ payload: UnsafeRawBufferPointer, to output: inout [UInt8], element: (UInt64, inout [UInt8]) -> Void
  ) -> Bool {
    appendScalarList(payload, to: &output, element: element) { field in
      switch field.wireType {
      case .varint: return [field.scalar]
      case .lengthDelimited: return ProtobufWire.Reader.packedVarints(field.payload)
      default: return nil
      }
    }
  }

  /// A list of fixed-width scalars (doubles: 8 bytes, floats: 4), packed or not.
  private static func appendFixedList(
    _ payload: UnsafeRawBufferPointer, width: Int, to output: inout [UInt8], element: (UInt64, inout [UInt8]) -> Void
  ) -> Bool {
    appendScalarList(payload, to: &output, element: element) { field in
      switch (field.wireType, width) {
      case (.fixed64, 8), (.fixed32, 4): return [field.scalar]
      case (.lengthDelimited, _):
        guard field.payload.count % width == 0 else { return nil }
        return stride(from: 0, to: field.payload.count, by: width).map { offset in
          width == 8
            ? field.payload.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
            : UInt64(field.payload.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        }
      default: return nil
      }
    }
  }

  /// `[a,b,...]` from the scalars of every `val` (field 1) entry, which `scalars` reads from one
  /// entry (packed or single); false when one cannot be read.
  private static func appendScalarList(
    _ payload: UnsafeRawBufferPointer, to output: inout [UInt8], element: (UInt64, inout [UInt8]) -> Void,
    scalars: (ProtobufWire.Reader.Field) -> [UInt64]?
  ) -> Bool {
    var reader = ProtobufWire.Reader(payload)
    output.append(UInt8(ascii: "["))
    var first = true
    while let field = reader.next() {
      guard field.number == 1 else { continue }
      guard let values = scalars(field) else { return false }
      for value in values {
        if !first { output.append(UInt8(ascii: ",")) }
        first = false
        element(value, &output)
      }
    }
    output.append(UInt8(ascii: "]"))
    return !reader.failed
  }

  /// `{"key":value,...}` from a `feast.types.Map` (`map<string, Value> val = 1`).
  private static func appendMap(_ payload: UnsafeRawBufferPointer, to output: inout [UInt8], depth: Int) -> Bool {
    guard depth < maxDepth else { return false }
    var reader = ProtobufWire.Reader(payload)
    output.append(UInt8(ascii: "{"))
    var first = true
    while let entry = reader.next() {
      guard entry.number == 1 else { continue }
      guard entry.wireType == .lengthDelimited else { return false }
      var key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(rebasing: entry.payload[0..<0])
      var value: UnsafeRawBufferPointer = UnsafeRawBufferPointer(rebasing: entry.payload[0..<0])
      var fields = ProtobufWire.Reader(entry.payload)
      while let field = fields.next() {
        guard field.wireType == .lengthDelimited else { continue }
        if field.number == 1 { key = field.payload } else if field.number == 2 { value = field.payload }
      }
      guard !fields.failed else { return false }
      if !first { output.append(UInt8(ascii: ",")) }
      first = false
      guard appendString(key, to: &output) else { return false }
      output.append(UInt8(ascii: ":"))
      guard render(value, to: &output, depth: depth + 1) else { return false }
    }
    output.append(UInt8(ascii: "}"))
    return !reader.failed
  }
}
