import XCTest

@testable import FeatureServer

final class RegistryTests: XCTestCase {
  func testBundledRegistryHasTheFinServeSchema() throws {
    let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
    XCTAssertEqual(registry.project, "finserve")
    XCTAssertEqual(registry.keyPrefix, "fs")
    XCTAssertEqual(registry.entities.map(\.name), ["customer", "account", "merchant", "user"])
    XCTAssertEqual(registry.entity(named: "customer")?.features.count, 8)
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
      let features = try XCTUnwrap(registry.entity(named: entity)).features.map(\.name)
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
}
