/// Any JSON value, for request bodies whose shape is open (Feast's `df` columns): built on
/// `JSONScanner`, so the same syntax rules, UTF-8 checks and nesting bound apply.
indirect enum JSONValue: Equatable {
  case null
  case bool(Bool)
  /// A number; `integer` is its exact value when written as an integer that fits an Int64.
  case number(Double, integer: Int64?)
  case string(String)
  case array([JSONValue])
  /// Members in the order written (names are unique: a repeated one is refused).
  case object([(String, JSONValue)])

  static func == (a: JSONValue, b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): true
    case (.bool(let x), .bool(let y)): x == y
    case (.number(let x, let i), .number(let y, let j)): (x == y || (x.isNaN && y.isNaN)) && i == j
    case (.string(let x), .string(let y)): x == y
    case (.array(let x), .array(let y)): x == y
    case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    default: false
    }
  }

  /// Parses a whole document. `allowNonFinite` also takes `NaN`, `Infinity` and `-Infinity`,
  /// which Python's `json.dumps` writes for such floats (so Feast's SDK sends them).
  static func parse(_ bytes: UnsafeBufferPointer<UInt8>, allowNonFinite: Bool = false) throws -> JSONValue {
    var scanner = JSONScanner(bytes)
    let value = try parse(&scanner, depth: 0, allowNonFinite: allowNonFinite)
    try scanner.expectEnd()
    return value
  }

  static func parse(_ scanner: inout JSONScanner, depth: Int, allowNonFinite: Bool = false) throws -> JSONValue {
    scanner.skipWhitespace()
    guard let byte = scanner.peek() else { throw scanner.error("expected a value") }
    if allowNonFinite {
      if byte == UInt8(ascii: "N") {
        try scanner.literal("NaN")
        return .number(.nan, integer: nil)
      }
      if byte == UInt8(ascii: "I") {
        try scanner.literal("Infinity")
        return .number(.infinity, integer: nil)
      }
      if byte == UInt8(ascii: "-"), scanner.position + 1 < scanner.buffer.count,
        scanner.buffer[scanner.position + 1] == UInt8(ascii: "I")
      {
        scanner.position += 1
        try scanner.literal("Infinity")
        return .number(-.infinity, integer: nil)
      }
    }
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
      let (value, integer) = try scanner.numberKeepingInteger()
      return .number(value, integer: integer)
    case UInt8(ascii: "["):
      guard depth < JSONScanner.maxDepth else { throw scanner.error("nested too deeply") }
      scanner.position += 1
      var elements: [JSONValue] = []
      if scanner.take(UInt8(ascii: "]")) { return .array(elements) }
      repeat {
        elements.append(try parse(&scanner, depth: depth + 1, allowNonFinite: allowNonFinite))
      } while scanner.take(UInt8(ascii: ","))
      try scanner.expect(UInt8(ascii: "]"), "',' or ']'")
      return .array(elements)
    case UInt8(ascii: "{"):
      guard depth < JSONScanner.maxDepth else { throw scanner.error("nested too deeply") }
      scanner.position += 1
      var members: [(String, JSONValue)] = []
      var names = MemberNames()
      if scanner.take(UInt8(ascii: "}")) { return .object(members) }
      repeat {
        scanner.skipWhitespace()
        let nameOffset = scanner.position
        let name = try scanner.string()
        guard names.insert(name) else {
          throw JSONScanner.SyntaxError(message: "member '\(name)' appears twice", offset: nameOffset)
        }
        try scanner.expect(UInt8(ascii: ":"), "':'")
        members.append((name, try parse(&scanner, depth: depth + 1, allowNonFinite: allowNonFinite)))
      } while scanner.take(UInt8(ascii: ","))
      try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
      return .object(members)
    default:
      throw scanner.error("unexpected character")
    }
  }

  /// A short description of the value's kind, for error messages.
  var kind: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number(_, let integer): integer == nil ? "a number" : "an integer"
    case .string: "a string"
    case .array: "a list"
    case .object: "an object"
    }
  }
}
