/// A JSON value given for an entity key, as the request wrote it.
enum FeastEntityInput {
  case integer(Int64)
  case number(Double)
  case string(String)
  case bool(Bool)
  case null
  /// A list or an object (never a valid key).
  case structured(String)

  init(_ value: JSONValue) {
    switch value {
    case .number(let number, let integer): self = integer.map { .integer($0) } ?? .number(number)
    case .string(let text): self = .string(text)
    case .bool(let flag): self = .bool(flag)
    case .null: self = .null
    case .array: self = .structured("a list")
    case .object: self = .structured("an object")
    }
  }
}

/// The body of `POST /get-online-features`, as Feast's Python feature server takes it:
/// `{"features": ["view:feature", ...] | "feature_service": "name", "entities": {"join_key":
/// [values...]}, "full_feature_names": bool, "include_feature_view_version_metadata": bool}`.
/// Other members are ignored, as FastAPI ignores them.
struct FeastOnlineRequest {
  /// Where the `features` list is in the body (`[` to `]`): its references are read only when
  /// the loop's memo of selections does not know that exact list (see `FeastSelectionMemo`).
  var featuresRange: Range<Int>? = nil
  var featureService: String? = nil
  /// Columns in the order the request gave them.
  var entities: [(name: String, values: [FeastEntityInput])] = []
  var fullFeatureNames = false
  var includeViewMetadata = false

  /// Parses a body; errors name the member (`body.entities.card_id`), as FastAPI's do.
  static func parse(_ bytes: UnsafeBufferPointer<UInt8>, limits: FeastConfiguration) throws(FeastRequestError)
    -> FeastOnlineRequest
  {
    var scanner = JSONScanner(bytes)
    var request = FeastOnlineRequest()
    var sawEntities = false
    do {
      try scanner.expect(UInt8(ascii: "{"), "a JSON object")
      var names = MemberNames()
      if !scanner.take(UInt8(ascii: "}")) {
        repeat {
          scanner.skipWhitespace()
          let name = try scanner.string()
          guard names.insert(name) else { throw FeastRequestError.invalid(["body", name], "appears twice") }
          try scanner.expect(UInt8(ascii: ":"), "':'")
          scanner.skipWhitespace()
          switch name {
          case "features":
            guard scanner.peek() == UInt8(ascii: "[") else {
              throw FeastRequestError.invalid(["body", "features"], "Input should be a valid list")
            }
            let start = scanner.position
            try scanner.skipValue(depth: 1)
            request.featuresRange = start..<scanner.position
          case "feature_service":
            if scanner.peek() == UInt8(ascii: "n") {
              try scanner.literal("null")
            } else {
              guard scanner.peek() == UInt8(ascii: "\"") else {
                throw FeastRequestError.invalid(["body", "feature_service"], "Input should be a valid string")
              }
              request.featureService = try scanner.string()
            }
          case "entities":
            sawEntities = true
            request.entities = try entities(&scanner, limits: limits)
          case "full_feature_names":
            request.fullFeatureNames = try boolean(&scanner, field: "full_feature_names")
          case "include_feature_view_version_metadata":
            request.includeViewMetadata = try boolean(&scanner, field: "include_feature_view_version_metadata")
          default:
            try scanner.skipValue(depth: 1)
          }
        } while scanner.take(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
      }
      try scanner.expectEnd()
    } catch let error as FeastRequestError {
      throw error
    } catch let error as JSONScanner.SyntaxError {
      throw FeastRequestError.syntax(error)
    } catch {
      throw FeastRequestError.invalid(["body"], "\(error)")
    }
    guard sawEntities else { throw FeastRequestError.missing(["body", "entities"]) }
    return request
  }

  /// The `view:feature` references of the `features` list at `range` of `body`.
  static func references(_ body: UnsafeBufferPointer<UInt8>, range: Range<Int>, limits: FeastConfiguration)
    throws(FeastRequestError) -> [String]
  {
    var scanner = JSONScanner(UnsafeBufferPointer(rebasing: body[range]))
    do {
      return try stringList(&scanner, field: "features", limit: limits.maxFeatures)
    } catch let error as FeastRequestError {
      throw error
    } catch let error as JSONScanner.SyntaxError {
      throw FeastRequestError.syntax(error)
    } catch {
      throw FeastRequestError.invalid(["body", "features"], "\(error)")
    }
  }

  private static func boolean(_ scanner: inout JSONScanner, field: String) throws -> Bool {
    switch scanner.peek() {
    case UInt8(ascii: "t"):
      try scanner.literal("true")
      return true
    case UInt8(ascii: "f"):
      try scanner.literal("false")
      return false
    default:
      throw FeastRequestError.invalid(["body", field], "Input should be a valid boolean")
    }
  }

  private static func stringList(_ scanner: inout JSONScanner, field: String, limit: Int) throws -> [String] {
    guard scanner.take(UInt8(ascii: "[")) else {
      throw FeastRequestError.invalid(["body", field], "Input should be a valid list")
    }
    var values: [String] = []
    if scanner.take(UInt8(ascii: "]")) { return values }
    repeat {
      scanner.skipWhitespace()
      guard scanner.peek() == UInt8(ascii: "\"") else {
        throw FeastRequestError.invalid(["body", field, "\(values.count)"], "Input should be a valid string")
      }
      guard values.count < limit else {
        throw FeastRequestError.tooLarge("more than \(limit) features in one request (--feast-max-features)")
      }
      values.append(try scanner.string())
    } while scanner.take(UInt8(ascii: ","))
    try scanner.expect(UInt8(ascii: "]"), "',' or ']'")
    return values
  }

  private static func entities(_ scanner: inout JSONScanner, limits: FeastConfiguration) throws -> [(
    name: String, values: [FeastEntityInput]
  )] {
    guard scanner.take(UInt8(ascii: "{")) else {
      throw FeastRequestError.invalid(["body", "entities"], "Input should be a valid dictionary")
    }
    var columns: [(name: String, values: [FeastEntityInput])] = []
    var names = MemberNames()
    if scanner.take(UInt8(ascii: "}")) { return columns }
    repeat {
      scanner.skipWhitespace()
      let name = try scanner.string()
      guard names.insert(name) else { throw FeastRequestError.invalid(["body", "entities", name], "appears twice") }
      guard columns.count < limits.maxFeatures else {
        throw FeastRequestError.tooLarge("more than \(limits.maxFeatures) entity columns in one request")
      }
      try scanner.expect(UInt8(ascii: ":"), "':'")
      guard scanner.take(UInt8(ascii: "[")) else {
        throw FeastRequestError.invalid(["body", "entities", name], "Input should be a valid list")
      }
      var values: [FeastEntityInput] = []
      if !scanner.take(UInt8(ascii: "]")) {
        repeat {
          guard values.count < limits.maxEntityRows else {
            throw FeastRequestError.tooLarge(
              "more than \(limits.maxEntityRows) entity rows in one request (--feast-max-entity-rows)")
          }
          values.append(try entityValue(&scanner))
        } while scanner.take(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "]"), "',' or ']'")
      }
      columns.append((name, values))
    } while scanner.take(UInt8(ascii: ","))
    try scanner.expect(UInt8(ascii: "}"), "',' or '}'")
    return columns
  }

  private static func entityValue(_ scanner: inout JSONScanner) throws -> FeastEntityInput {
    FeastEntityInput(try JSONValue.parse(&scanner, depth: 2))
  }

}
