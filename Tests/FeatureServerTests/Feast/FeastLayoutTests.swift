import Codecs
import XCTest

@testable import FeatureServer

/// Feast's Redis layout byte for byte: the vectors come from Feast's own code
/// (`key_encoding_utils.serialize_entity_key`, `mmh3.hash` in `_mmh3`) and from rows `feast
/// materialize` wrote.
final class FeastLayoutTests: XCTestCase {
  func testFieldNamesAreTheLittleEndianMurmurHashOfViewAndFeature() {
    let hash = MurmurHash3.x86_32("card_stats:amt_avg_7d")
    let field = withUnsafeBytes(of: hash.littleEndian) { Array($0) }
    XCTAssertEqual(field, [0x93, 0x2b, 0x32, 0x14])
    // The reference implementation's vectors (tails of 1, 2 and 3 bytes, seeds).
    XCTAssertEqual(MurmurHash3.x86_32("", seed: 0), 0)
    XCTAssertEqual(MurmurHash3.x86_32("", seed: 1), 0x514E_28B7)
    XCTAssertEqual(MurmurHash3.x86_32("a"), 0x3C25_69B2)
    XCTAssertEqual(MurmurHash3.x86_32("ab"), 0x9BBF_D75F)
    XCTAssertEqual(MurmurHash3.x86_32("abc"), 0xB3DD_93FA)
    XCTAssertEqual(MurmurHash3.x86_32("The quick brown fox jumps over the lazy dog"), 0x2E4F_F723)
  }

  func testEntityKeysSerialiseAsFeastVersion3PlusTheProject() throws {
    let view = try FeastTestViews.view(name: "card_stats", joinKeys: [("card_id", .int64)])
    let part = try FeastEntityKey.convert(.integer(42), to: .int64, location: []).part
    let key = FeastEntityKey.redisKey(view: view, parts: [part], project: Array("fraud".utf8))
    var expected: [UInt8] = [1, 0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0] + Array("card_id".utf8)
    expected += [4, 0, 0, 0, 8, 0, 0, 0, 0x2a, 0, 0, 0, 0, 0, 0, 0] + Array("fraud".utf8)
    XCTAssertEqual(key, expected)
  }

  func testJoinKeysAreSortedByNameWhateverTheViewsOrder() throws {
    let view = try FeastTestViews.view(name: "pair", joinKeys: [("merchant_id", .string), ("card_id", .int32)])
    let merchant = try FeastEntityKey.convert(.string("m"), to: .string, location: []).part
    let card = try FeastEntityKey.convert(.string("7"), to: .int32, location: []).part
    let key = FeastEntityKey.redisKey(view: view, parts: [merchant, card], project: Array("p".utf8))
    var expected: [UInt8] = [2, 0, 0, 0]
    expected += [2, 0, 0, 0, 7, 0, 0, 0] + Array("card_id".utf8)
    expected += [2, 0, 0, 0, 11, 0, 0, 0] + Array("merchant_id".utf8)
    expected += [3, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0]  // INT32 7
    expected += [2, 0, 0, 0, 1, 0, 0, 0, UInt8(ascii: "m")]  // STRING "m"
    expected += Array("p".utf8)
    XCTAssertEqual(key, expected)
  }

  func testEntityValuesConvertAsFeastConvertsThemAndRefuseWhatItCannotKey() {
    func part(_ input: FeastEntityInput, _ type: FeastValueType) -> [UInt8]? {
      try? FeastEntityKey.convert(input, to: type, location: ["body", "entities", "k", "0"]).part
    }
    XCTAssertEqual(part(.string("42"), .int64), part(.integer(42), .int64), "int('42') is 42")
    XCTAssertEqual(part(.number(42.0), .int64), part(.integer(42), .int64))
    XCTAssertEqual(part(.integer(42), .string), part(.string("42"), .string), "str(42) is '42'")
    XCTAssertNil(part(.number(1.5), .int64), "a fraction is not a key")
    XCTAssertNil(part(.number(1e19), .int64), "beyond Int64 is refused, not trapped")
    XCTAssertNil(part(.number(.nan), .int64))
    XCTAssertNil(part(.integer(Int64(Int32.max) + 1), .int32))
    XCTAssertNil(part(.bool(true), .int64))
    XCTAssertNil(part(.null, .string))
    XCTAssertNil(part(.structured("a list"), .string))
    XCTAssertNil(part(.string("not base64!"), .bytes))
    XCTAssertEqual(part(.string("AAE="), .bytes), [1, 0, 0, 0, 2, 0, 0, 0, 0, 1])
    do {
      _ = try FeastEntityKey.convert(.string("x"), to: .int64, location: ["body", "entities", "card_id", "3"])
      XCTFail("a word is not an INT64 key")
    } catch {
      XCTAssertTrue(String(decoding: error.response.body, as: UTF8.self).contains(#""card_id",3]"#))
    }
  }

  func testEventTimesRenderAsFeastsPythonServerWritesThem() {
    func text(_ seconds: Int64, _ nanos: Int32) -> String {
      String(decoding: FeastTimestamp.renderJSON(seconds: seconds, nanos: nanos), as: UTF8.self)
    }
    XCTAssertEqual(text(0, 0), #""1970-01-01T00:00:00Z""#)
    XCTAssertEqual(text(1_764_504_000, 0), #""2025-11-30T12:00:00Z""#)
    XCTAssertEqual(text(1_764_504_000, 123_000_000), #""2025-11-30T12:00:00.123Z""#)
    XCTAssertEqual(text(1_764_504_000, 998_766_000), #""2025-11-30T12:00:00.998766Z""#)
    XCTAssertEqual(text(1_764_504_000, 1), #""2025-11-30T12:00:00.000000001Z""#)
    XCTAssertEqual(text(-1, 0), #""1969-12-31T23:59:59Z""#)
    XCTAssertEqual(text(951_782_400, 0), #""2000-02-29T00:00:00Z""#)
    XCTAssertEqual(text(FeastTimestamp.secondsRange.lowerBound, 0), #""0001-01-01T00:00:00Z""#)
    XCTAssertEqual(text(FeastTimestamp.secondsRange.upperBound, 0), #""9999-12-31T23:59:59Z""#)
  }

  func testStoredTimestampsOutsidePythonsRangeOrMalformedAreRefused() {
    func decode(_ bytes: [UInt8]) -> (Int64, Int32)? { bytes.withUnsafeBytes { FeastTimestamp.decode($0) } }
    let now = FeastTimestamp.encode(seconds: 1_764_504_000, nanos: 5)
    XCTAssertEqual(decode(now)?.0, 1_764_504_000)
    XCTAssertEqual(decode(now)?.1, 5)
    XCTAssertEqual(decode([])?.0, 0, "an empty Timestamp is the epoch")
    XCTAssertNil(decode(FeastTimestamp.encode(seconds: Int64.max, nanos: 0)))
    XCTAssertNil(decode(FeastTimestamp.encode(seconds: 0, nanos: 1_000_000_000)))
    XCTAssertNil(decode(FeastTimestamp.encode(seconds: 0, nanos: -1)))
    XCTAssertNil(decode([0x08, 0xff]), "a truncated varint")
    XCTAssertNil(decode([0x08] + [UInt8](repeating: 0xff, count: 11)), "a varint longer than ten bytes")
  }

  func testISO8601TimesFromWritersParseWithZonesFractionsOrNone() {
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30T12:00:00")?.0, 1_764_504_000)
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30T12:00:00Z")?.0, 1_764_504_000)
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30T14:00:00+02:00")?.0, 1_764_504_000)
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30 12:00:00.5")?.1, 500_000_000)
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30T12:00:00.1234567891")?.1, 123_456_789)
    XCTAssertEqual(FeastTimestamp.parseISO8601("2025-11-30")?.0, 1_764_460_800)
    for bad in [
      "", "2025-02-29", "2025-13-01", "2025-11-30T24:00:00", "2025-11-30T12:00:00.", "0000-01-01", "x",
      "2025-11-30T12:00:00+0", "9999-12-31T23:59:59-01:00",
    ] {
      XCTAssertNil(FeastTimestamp.parseISO8601(bad), bad)
    }
  }

  func testStoredValuesRenderAsFeastsPythonServerAnswersThem() {
    func json(_ bytes: [UInt8]) -> String {
      var output: [UInt8] = []
      bytes.withUnsafeBytes { _ = FeastValueJSON.append($0, to: &output) }
      return String(decoding: output, as: UTF8.self)
    }
    func double(_ value: Double) -> [UInt8] {
      var bytes: [UInt8] = []
      ProtobufWire.appendFixed64Field(5, value.bitPattern, to: &bytes)
      return bytes
    }
    XCTAssertEqual(json([]), "null", "no field set is None")
    XCTAssertEqual(json(double(0.1 + 0.2)), "0.30000000000000004")
    XCTAssertEqual(json(double(1e16)), "1e+16")
    XCTAssertEqual(json(double(1e15)), "1000000000000000.0")
    XCTAssertEqual(json(double(.nan)), #""NaN""#)
    XCTAssertEqual(json(double(-.infinity)), #""-Infinity""#)
    var float: [UInt8] = []
    ProtobufWire.appendFixed32Field(6, Float(1.1).bitPattern, to: &float)
    XCTAssertEqual(json(float), "1.100000023841858", "a FLOAT is widened to a double, as Python does")
    var int32: [UInt8] = []
    ProtobufWire.appendVarintField(3, -5, to: &int32)
    XCTAssertEqual(json(int32), "-5")
    var text: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(2, Array("q\"\\\u{1}é".utf8), to: &text)
    XCTAssertEqual(json(text), #""q\"\\\u0001é""#)
    var bytes: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(1, [0, 1, 0xff], to: &bytes)
    XCTAssertEqual(json(bytes), #""AAH/""#)
    var counts: [UInt8] = []
    var packed: [UInt8] = []
    for value in [1, -1, Int64.max] as [Int64] { ProtobufWire.appendVarint(UInt64(bitPattern: value), to: &packed) }
    var list: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(1, packed, to: &list)
    ProtobufWire.appendLengthDelimitedField(14, list, to: &counts)
    XCTAssertEqual(json(counts), "[1,-1,9223372036854775807]")
    var empty: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(12, [], to: &empty)
    XCTAssertEqual(json(empty), "[]")
  }

  func testMalformedStoredValuesBecomeNullNotACrash() {
    func rendered(_ bytes: [UInt8]) -> (Bool, String) {
      var output: [UInt8] = []
      let ok = bytes.withUnsafeBytes { FeastValueJSON.append($0, to: &output) }
      return (ok, String(decoding: output, as: UTF8.self))
    }
    var invalidUTF8: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(2, [0xff, 0xfe], to: &invalidUTF8)
    var wrongWireType: [UInt8] = []
    ProtobufWire.appendVarintField(5, 7, to: &wrongWireType)
    var deep: [UInt8] = []
    ProtobufWire.appendVarintField(4, 1, to: &deep)
    for _ in 0..<40 {  // list_val of list_val of ... : deeper than the bound
      var repeated: [UInt8] = []
      ProtobufWire.appendLengthDelimitedField(1, deep, to: &repeated)
      deep = []
      ProtobufWire.appendLengthDelimitedField(42, repeated, to: &deep)
    }
    let cases: [(String, [UInt8])] = [
      ("truncated length", [0x12, 0x05, 0x61]), ("truncated fixed64", [0x29, 1, 2, 3]), ("bad wire type", [0x0f]),
      ("invalid UTF-8", invalidUTF8), ("varint where a double belongs", wrongWireType), ("nested 40 deep", deep),
      ("length beyond Int", [0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]
    for (name, bytes) in cases {
      let (ok, text) = rendered(bytes)
      XCTAssertFalse(ok, name)
      XCTAssertEqual(text, "null", name)
    }
  }

  func testEveryPrefixOfAValueIsHandledWithoutTrapping() {
    var value: [UInt8] = []
    var inner: [UInt8] = []
    ProtobufWire.appendLengthDelimitedField(1, Array("abc".utf8), to: &inner)
    ProtobufWire.appendLengthDelimitedField(1, Array("de".utf8), to: &inner)
    ProtobufWire.appendLengthDelimitedField(12, inner, to: &value)
    for length in 0...value.count {
      var output: [UInt8] = []
      Array(value[..<length]).withUnsafeBytes { _ = FeastValueJSON.append($0, to: &output) }
      XCTAssertFalse(output.isEmpty)
    }
  }
}

/// Feature views built the way the registry builder builds them, for layout tests.
enum FeastTestViews {
  static func view(name: String, joinKeys: [(String, FeastValueType)]) throws -> FeastFeatureView {
    var message = Feast_Core_FeatureView()
    message.spec.name = name
    message.spec.project = "p"
    message.spec.online = true
    for (key, type) in joinKeys {
      var column = Feast_Core_FeatureSpecV2()
      column.name = key
      column.valueType = Feast_Types_ValueType.Enum(rawValue: Int(type.rawValue)) ?? .invalid
      message.spec.entityColumns.append(column)
      message.spec.entities.append(key)
    }
    var feature = Feast_Core_FeatureSpecV2()
    feature.name = "f"
    feature.valueType = .double
    message.spec.features.append(feature)
    var registry = Feast_Core_Registry()
    registry.featureViews.append(message)
    for (key, type) in joinKeys {
      var entity = Feast_Core_Entity()
      entity.spec.name = key
      entity.spec.joinKey = key
      entity.spec.project = "p"
      entity.spec.valueType = Feast_Types_ValueType.Enum(rawValue: Int(type.rawValue)) ?? .invalid
      registry.entities.append(entity)
    }
    let built = try FeastRegistryBuilder.build(registry, project: "p") {
      FeastRepositoryError(file: "test", reason: $0)
    }
    guard let view = built.viewByName[name] else { throw FeastRepositoryError(file: "test", reason: "view not built") }
    return view
  }
}
