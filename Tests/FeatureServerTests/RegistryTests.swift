import XCTest

@testable import FeatureServer

final class RegistryTests: XCTestCase {
  func testBundledRegistryHasTheFinServeSchema() throws {
    let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
    XCTAssertEqual(registry.project, "finserve")
    XCTAssertEqual(registry.keyPrefix, "fs")
    XCTAssertEqual(registry.entities.map(\.name), ["customer", "account", "merchant", "user"])
    XCTAssertEqual(registry.entity(named: "customer")?.storedFeatureCount, 8)
    // 3 windows x 6 aggregations + the two 60-second features, served after the stored ones.
    XCTAssertEqual(registry.entity(named: "customer")?.features.count, 28)
    XCTAssertEqual(registry.entity(named: "customer")?.features[8].name, "txn_count_1m")
    XCTAssertEqual(registry.entity(named: "customer")?.features[27].name, "amount_std_60s")
    XCTAssertEqual(registry.entity(named: "account")?.features.count, 7)
    XCTAssertEqual(registry.entity(named: "merchant")?.features.count, 7)
    XCTAssertEqual(registry.entity(named: "customer")?.maxAge, 7 * 86400)
    XCTAssertEqual(registry.entity(named: "customer")?.features[7].defaultValue, .bool(false))
    XCTAssertEqual(registry.redisKey(entity: "customer", id: "42"), "fs:customer:42")
  }

  func testBundledCSVHeadersMatchTheRegistry() throws {
    let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
    let root = URL(fileURLWithPath: RegistryLoader.bundledPath).deletingLastPathComponent().deletingLastPathComponent()
    for (file, entity) in [("customers", "customer"), ("accounts", "account"), ("merchants", "merchant")] {
      let text = try String(contentsOf: root.appendingPathComponent("data/\(file).csv"), encoding: .utf8)
      let header = text.prefix { $0 != "\n" }.split(separator: ",").map(String.init)
      let definition = try XCTUnwrap(registry.entity(named: entity))
      let features = definition.features.prefix(definition.storedFeatureCount).map(\.name)
      XCTAssertEqual(header, ["\(entity)_id", "event_timestamp"] + features, file)
    }
  }

  /// Each broken registry names its line and the problem.
  func testInvalidRegistriesFailWithLineAndReason() {
    let base = """
      project: p
      redis_key_prefix: fs
      entities:
        customer:
          id: {type: integer}
          max_age: 1h
          features:
            - {name: age, type: int64}
      """
    let cases: [(String, String, Int?, String)] = [
      ("bad type", base.replacingOccurrences(of: "type: int64", with: "type: float"), 8, "has type 'float'"),
      ("bad duration", base.replacingOccurrences(of: "1h", with: "soon"), 6, "not a duration"),
      (
        "unknown key", base.replacingOccurrences(of: "max_age: 1h", with: "max_age: 1h\n    ttl: 5"), 7,
        "unknown key 'ttl'"
      ),
      ("bad id type", base.replacingOccurrences(of: "type: integer", with: "type: uuid"), 5, "'integer' or 'token'"),
      (
        "bad default", base.replacingOccurrences(of: "type: int64}", with: "type: int64, default: x}"), 8,
        "is not a int64"
      ),
      ("duplicate feature", base + "\n      - {name: age, type: double}", 9, "declared twice"),
      (
        "reserved name", base.replacingOccurrences(of: "name: age", with: "name: _ts"), 8, "reserved for the event time"
      ),
      (
        "no features", base.replacingOccurrences(of: "      - {name: age, type: int64}", with: "      []"), 8,
        "non-empty 'features'"
      ),
      (
        "missing prefix", base.replacingOccurrences(of: "redis_key_prefix: fs\n", with: ""), 1,
        "missing redis_key_prefix"
      ),
      ("not yaml", "project: [unclosed", nil, "not valid YAML"),
    ]
    for (name, text, line, reason) in cases {
      XCTAssertThrowsError(try RegistryLoader.parse(text, file: "r.yaml"), name) { error in
        guard let error = error as? RegistryError else { return XCTFail("\(name): \(error)") }
        XCTAssertEqual(error.file, "r.yaml", name)
        if let line { XCTAssertEqual(error.line, line, "\(name): \(error)") }
        XCTAssertTrue(error.reason.contains(reason), "\(name): \(error)")
      }
    }
  }

  func testIdRules() {
    let integer = IdRule.integer(min: 1, max: 1000)
    XCTAssertNil(integer.violation("42"))
    XCTAssertNotNil(integer.violation("0"))
    XCTAssertNotNil(integer.violation("-1"))
    XCTAssertNotNil(integer.violation("4x"))
    XCTAssertNotNil(integer.violation(""))
    XCTAssertNotNil(integer.violation("99999999999999999999999"))
    let token = IdRule.token(maxLength: 8)
    XCTAssertNil(token.violation("u-1.a:b_"))
    XCTAssertNotNil(token.violation("has space"))
    XCTAssertNotNil(token.violation("toolongtoken"))
  }

  func testValuesParseByType() {
    XCTAssertEqual(FeatureValue(text: "41", as: .int64), .int64(41))
    XCTAssertNil(FeatureValue(text: "41.5", as: .int64))
    XCTAssertEqual(FeatureValue(text: "41.5", as: .double), .double(41.5))
    XCTAssertNil(FeatureValue(text: "nan", as: .double))
    XCTAssertEqual(FeatureValue(text: "1", as: .bool), .bool(true))
    XCTAssertNil(FeatureValue(text: "yes", as: .bool))
  }

  /// The read path parses numbers from reply bytes itself; it must agree with `Int64(String)` and
  /// `Double(String)` (bit for bit) on every input, plain decimals and the rest alike.
  func testDecimalTextAgreesWithTheStandardLibrary() {
    var inputs = [
      "", "-", "+", ".", "-.", "0", "-0", "+0", "00", "007", "1.", ".5", "-.5", "1.5.2", "1e5", "1E-3", "-2.5e+10",
      "0x1p3", "inf", "-inf", "nan", "infinity", " 1", "1 ", "1,5", "12a", "9223372036854775807",
      "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "123456789012345", "1234567890123456",
      "0.000000000000000000001", "0.1", "0.2", "0.3", "33.31", "14.31", "0.00651", "12.44", "1.7976931348623157e308",
      "4.9e-324", "99999999999999999999", "3.14159265358979323846", "٣", "1_000",
    ]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<20_000 {
      let integerDigits = Int.random(in: 1...12, using: &generator)
      let fractionDigits = Int.random(in: 0...10, using: &generator)
      var text = Bool.random(using: &generator) ? "-" : ""
      for _ in 0..<integerDigits { text += String(Int.random(in: 0...9, using: &generator)) }
      if fractionDigits > 0 || Int.random(in: 0...9, using: &generator) == 0 { text += "." }
      for _ in 0..<fractionDigits { text += String(Int.random(in: 0...9, using: &generator)) }
      inputs.append(text)
    }
    for text in inputs {
      var copy = text
      copy.withUTF8 { bytes in
        let raw = UnsafeRawBufferPointer(bytes)
        XCTAssertEqual(DecimalText.int64(raw), Int64(text), "int64 of '\(text)'")
        XCTAssertEqual(DecimalText.double(raw)?.bitPattern, Double(text)?.bitPattern, "double of '\(text)'")
      }
    }
  }

  /// Rendering uses each feature's JSON key, escaped once at load.
  func testFeatureKeysAreRenderedAsEscapedJSON() {
    let feature = FeatureDefinition(name: "a\"b\\c\u{1}", type: .int64, defaultValue: nil)
    XCTAssertEqual(String(decoding: feature.jsonKey, as: UTF8.self), #""a\"b\\c\u0001":"#)
    var output: [UInt8] = []
    JSONWriter.appendString("plain ascii ü", to: &output)
    XCTAssertEqual(String(decoding: output, as: UTF8.self), "\"plain ascii ü\"")
  }
}
