/// The type of a feature's value.
public enum FeatureType: String, Sendable, CaseIterable {
  case int64, double, string, bool
}

/// A feature's value as served.
public enum FeatureValue: Equatable, Sendable {
  case int64(Int64)
  case double(Double)
  case string(String)
  case bool(Bool)

  /// Parses the text a writer stored in Redis (or a CSV cell) as `type`; nil when it does not fit.
  public init?(text: String, as type: FeatureType) {
    var text = text
    guard let value = text.withUTF8({ FeatureValue(utf8: UnsafeRawBufferPointer($0), as: type) }) else { return nil }
    self = value
  }

  /// `init(text:as:)` on UTF-8 bytes, for the read path, which gets them straight from a Redis
  /// reply: integers and plain decimals are parsed here without making a String first.
  public init?(utf8 bytes: UnsafeRawBufferPointer, as type: FeatureType) {
    switch type {
    case .int64:
      guard let value = DecimalText.int64(bytes) else { return nil }
      self = .int64(value)
    case .double:
      guard let value = DecimalText.double(bytes), value.isFinite else { return nil }
      self = .double(value)
    case .string:
      self = .string(String(decoding: bytes, as: UTF8.self))
    case .bool:
      switch String(decoding: bytes, as: UTF8.self) {  // short words stay inline: no allocation
      case "true", "1", "True", "TRUE": self = .bool(true)
      case "false", "0", "False", "FALSE": self = .bool(false)
      default: return nil
      }
    }
  }

  /// The text stored in Redis for this value.
  public var storedText: String {
    switch self {
    case .int64(let value): String(value)
    case .double(let value): String(value)
    case .string(let value): value
    case .bool(let value): value ? "true" : "false"
    }
  }
}

/// One feature of an entity.
public struct FeatureDefinition: Sendable, Equatable {
  public let name: String
  public let type: FeatureType
  /// Served when the instance exists but lacks this field; nil serves `null`.
  public let defaultValue: FeatureValue?
  /// The name's UTF-8 bytes, matched against Redis hash fields.
  let nameUTF8: [UInt8]
  /// `"name":` as JSON, rendered once.
  let jsonKey: [UInt8]

  init(name: String, type: FeatureType, defaultValue: FeatureValue?) {
    self.name = name
    self.type = type
    self.defaultValue = defaultValue
    nameUTF8 = Array(name.utf8)
    var key: [UInt8] = []
    JSONWriter.appendString(name, to: &key)
    key.append(UInt8(ascii: ":"))
    jsonKey = key
  }
}

/// What an entity's ids may look like. Ids that break the rule get 400 before touching Redis.
public enum IdRule: Sendable, Equatable {
  /// Decimal digits only, within a range.
  case integer(min: Int64, max: Int64)
  /// Letters, digits, `_`, `-`, `.` and `:`, at most `maxLength` bytes.
  case token(maxLength: Int)

  /// Nil when `id` fits; otherwise why not.
  public func violation(_ id: String) -> String? {
    switch self {
    case .integer(let min, let max):
      guard !id.isEmpty, id.utf8.count <= 19, id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int64(id) else {
        return "must be a decimal integer"
      }
      guard value >= min && value <= max else { return "must be between \(min) and \(max)" }
      return nil
    case .token(let maxLength):
      guard !id.isEmpty else { return "must not be empty" }
      guard id.utf8.count <= maxLength else { return "must be at most \(maxLength) bytes" }
      let allowed = id.utf8.allSatisfy {
        ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 || $0 == 46
          || $0 == 58
      }
      return allowed ? nil : "may contain only letters, digits, '_', '-', '.' and ':'"
    }
  }
}

/// An entity kind: its id rule, features and freshness bound.
public struct EntityDefinition: Sendable {
  public let name: String
  public let description: String
  public let idRule: IdRule
  /// Seconds after its event time at which an instance's data is `OUTSIDE_MAX_AGE`.
  public let maxAge: Double
  public let features: [FeatureDefinition]
  /// Feature index by name.
  public let featureIndex: [String: Int]

  init(name: String, description: String, idRule: IdRule, maxAge: Double, features: [FeatureDefinition]) {
    self.name = name
    self.description = description
    self.idRule = idRule
    self.maxAge = maxAge
    self.features = features
    var index: [String: Int] = [:]
    for (position, feature) in features.enumerated() { index[feature.name] = position }
    featureIndex = index
  }
}

/// The feature registry: the project, the Redis key prefix and the entities, loaded from YAML.
public struct Registry: Sendable {
  public let project: String
  public let keyPrefix: String
  /// Entities in file order.
  public let entities: [EntityDefinition]
  private let byName: [String: Int]

  init(project: String, keyPrefix: String, entities: [EntityDefinition]) {
    self.project = project
    self.keyPrefix = keyPrefix
    self.entities = entities
    var byName: [String: Int] = [:]
    for (index, entity) in entities.enumerated() { byName[entity.name] = index }
    self.byName = byName
  }

  public func entity(named name: String) -> EntityDefinition? {
    byName[name].map { entities[$0] }
  }

  /// The Redis key of an instance: `<prefix>:<entity>:<id>`.
  public func redisKey(entity: String, id: String) -> String {
    "\(keyPrefix):\(entity):\(id)"
  }
}
