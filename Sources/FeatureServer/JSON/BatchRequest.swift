/// The body of `POST /features`: `{"items": [{"entity": "customer", "id": "42", "features":
/// ["age"]}]}`. Ids may be JSON strings or integers. Read with `JSONScanner` in one pass: items
/// are counted as they are read, so a batch over the limit is refused at item limit + 1 without
/// decoding the rest; every error names its field (`items[2].id`); a member name repeated at any
/// level is refused; members we do not know are checked and ignored.
struct BatchRequest {
  struct Item {
    var entity: String
    var id: String
    var features: [String]?
  }

  /// Why a body was refused.
  enum Failure: Error {
    /// Not JSON, or not the shape above: the message names the field.
    case invalid(String)
    /// More than the allowed number of items.
    case tooManyItems(limit: Int)
  }

  /// The most feature names one item may list (more than any entity has).
  static let maxFeatureNames = 1024

  var items: [Item] = []

  init(parsing bytes: [UInt8], maxItems: Int) throws(Failure) {
    do {
      try bytes.withUnsafeBufferPointer { buffer in
        var scanner = JSONScanner(buffer)
        var sawItems = false
        try Self.members(of: &scanner, path: "") { name, scanner in
          guard name == "items" else { return false }
          sawItems = true
          try Self.expectArray(&scanner, path: "items")
          var index = 0
          try Self.elements(of: &scanner) { scanner in
            guard index < maxItems else { throw Failure.tooManyItems(limit: maxItems) }
            items.append(try Self.item(&scanner, path: "items[\(index)]"))
            index += 1
          }
          return true
        }
        try scanner.expectEnd()
        guard sawItems else { throw Failure.invalid("missing field 'items'") }
      }
    } catch let failure as Failure {
      throw failure
    } catch let error as JSONScanner.SyntaxError {
      throw .invalid(error.description)
    } catch {
      throw .invalid("body is not valid JSON")
    }
  }

  private static func item(_ scanner: inout JSONScanner, path: String) throws -> Item {
    var entity: String? = nil
    var id: String? = nil
    var features: [String]? = nil
    try members(of: &scanner, path: path) { name, scanner in
      switch name {
      case "entity":
        entity = try string(&scanner, path: "\(path).entity")
      case "id":
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "\"") {
          id = try scanner.string()
        } else if let byte = scanner.peek(), byte == UInt8(ascii: "-") || (byte >= 48 && byte <= 57) {
          let (value, isInteger) = try scanner.number()
          guard isInteger, value >= 0, value < 1e15 else {
            throw Failure.invalid("field '\(path).id' must be a string or a non-negative integer")
          }
          id = String(Int64(value))
        } else {
          throw Failure.invalid("field '\(path).id' must be a string or a non-negative integer")
        }
      case "features":
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "n") {
          try scanner.literal("null")
          return true
        }
        try expectArray(&scanner, path: "\(path).features")
        var names: [String] = []
        try elements(of: &scanner) { scanner in
          guard names.count < maxFeatureNames else {
            throw Failure.invalid("field '\(path).features' lists more than \(maxFeatureNames) names")
          }
          names.append(try string(&scanner, path: "\(path).features[\(names.count)]"))
        }
        features = names
      default:
        return false
      }
      return true
    }
    guard let entity else { throw Failure.invalid("missing field '\(path).entity'") }
    guard let id else { throw Failure.invalid("missing field '\(path).id'") }
    return Item(entity: entity, id: id, features: features)
  }

  /// Reads an object's members; `body` reads the value of a member it knows and returns true,
  /// or returns false to have the value checked and skipped.
  private static func members(
    of scanner: inout JSONScanner, path: String, _ body: (String, inout JSONScanner) throws -> Bool
  ) throws {
    scanner.skipWhitespace()
    guard scanner.peek() == UInt8(ascii: "{") else {
      if !path.isEmpty { throw Failure.invalid("field '\(path)' must be an object") }
      if scanner.atEnd { throw Failure.invalid("empty body; expected a JSON object") }
      // Valid JSON of another kind, or no JSON at all.
      var probe = scanner
      if (try? probe.skipValue(depth: 0)) != nil, (try? probe.expectEnd()) != nil {
        throw Failure.invalid("the body must be a JSON object")
      }
      throw scanner.error("expected a JSON object")
    }
    scanner.position += 1
    if scanner.take(UInt8(ascii: "}")) { return }
    var names = MemberNames()
    while true {
      scanner.skipWhitespace()
      guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a member name") }
      let name = try scanner.string()
      guard names.insert(name) else {
        throw Failure.invalid("member '\(path.isEmpty ? name : path + "." + name)' appears twice")
      }
      try scanner.expect(UInt8(ascii: ":"), "':'")
      if try !body(name, &scanner) { try scanner.skipValue(depth: 1) }
      if scanner.take(UInt8(ascii: ",")) { continue }
      try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
      return
    }
  }

  private static func expectArray(_ scanner: inout JSONScanner, path: String) throws {
    scanner.skipWhitespace()
    guard scanner.peek() == UInt8(ascii: "[") else { throw Failure.invalid("field '\(path)' must be an array") }
  }

  /// Reads an array's elements with `body`; the scanner stands on `[`.
  private static func elements(of scanner: inout JSONScanner, _ body: (inout JSONScanner) throws -> Void) throws {
    scanner.position += 1
    if scanner.take(UInt8(ascii: "]")) { return }
    while true {
      try body(&scanner)
      if scanner.take(UInt8(ascii: ",")) { continue }
      try scanner.expect(UInt8(ascii: "]"), "',' or ']'")
      return
    }
  }

  private static func string(_ scanner: inout JSONScanner, path: String) throws -> String {
    scanner.skipWhitespace()
    guard scanner.peek() == UInt8(ascii: "\"") else { throw Failure.invalid("field '\(path)' must be a string") }
    return try scanner.string()
  }
}
