/// A JSON object's members with scalar values, parsed straight from request bytes: the
/// `/predict` hot path's decoder (Foundation's decoders cost more than the whole prediction).
/// Nested objects and arrays are checked and kept only as `.nested`, so a field of the wrong
/// shape gets a precise 400. A member name that appears twice is refused, as everywhere else.
struct FlatJSONObject {
  enum Value: Equatable {
    case string(String)
    case number(Double, isInteger: Bool)
    case bool(Bool)
    case null
    case nested
  }

  typealias SyntaxError = JSONScanner.SyntaxError

  /// The most members accepted: a request body of ours has about ten; a body with thousands is
  /// an attack on the parser, refused before it costs anything.
  static let maxMembers = 256

  /// Members in body order.
  private(set) var members: [(name: String, value: Value)] = []

  /// The value of member `name`; nil when absent.
  subscript(name: String) -> Value? {
    for member in members where member.name == name { return member.value }
    return nil
  }

  /// An empty object, to be filled with `append` (members built from another format).
  init() {}

  var count: Int { members.count }

  /// Adds a member (the caller keeps names unique and within `maxMembers`).
  mutating func append(_ name: String, _ value: Value) {
    members.append((name, value))
  }

  /// Parses `bytes`, which must hold exactly one JSON object (whitespace around it allowed).
  init(parsing bytes: [UInt8]) throws {
    try bytes.withUnsafeBufferPointer { buffer in
      var scanner = JSONScanner(buffer)
      scanner.skipWhitespace()
      guard scanner.peek() == UInt8(ascii: "{") else {
        throw scanner.error(scanner.atEnd ? "empty body; expected a JSON object" : "expected a JSON object")
      }
      scanner.position += 1
      var names = MemberNames()
      if !scanner.take(UInt8(ascii: "}")) {
        members.reserveCapacity(16)
        while true {
          scanner.skipWhitespace()
          guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a member name") }
          let name = try scanner.string()
          guard names.insert(name) else {
            throw SyntaxError(message: "member '\(name)' appears twice", offset: scanner.position)
          }
          guard members.count < FlatJSONObject.maxMembers else {
            throw SyntaxError(message: "more than \(FlatJSONObject.maxMembers) members", offset: scanner.position)
          }
          try scanner.expect(UInt8(ascii: ":"), "':'")
          scanner.skipWhitespace()
          members.append((name, try Self.value(&scanner)))
          if scanner.take(UInt8(ascii: ",")) { continue }
          try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
          break
        }
      }
      try scanner.expectEnd()
    }
  }

  private static func value(_ scanner: inout JSONScanner) throws -> Value {
    guard let byte = scanner.peek() else { throw scanner.error("expected a value") }
    switch byte {
    case UInt8(ascii: "\""): return .string(try scanner.string())
    case UInt8(ascii: "t"):
      try scanner.literal("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try scanner.literal("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try scanner.literal("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      let (number, isInteger) = try scanner.number()
      return .number(number, isInteger: isInteger)
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      try scanner.skipValue(depth: 0)
      return .nested
    default: throw scanner.error("unexpected character")
    }
  }
}
