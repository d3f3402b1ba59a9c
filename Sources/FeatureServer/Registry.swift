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
///
/// Every id has one canonical text, the one its Redis key and cache entry use: an integer id is
/// its decimal value (`0042` and `42` are the same customer, `fs:customer:42`); a token is
/// itself. Every route and the loader go through `canonical(_:)`, so no spelling of an id reads
/// a different key or fills its own cache entry.
public enum IdRule: Sendable, Equatable {
  /// Decimal digits only, within a range.
  case integer(min: Int64, max: Int64)
  /// Letters, digits, `_`, `-`, `.` and `:`, at most `maxLength` bytes.
  case token(maxLength: Int)

  /// The canonical text of `id`, or why it does not fit the rule.
  public func canonical(_ id: String) -> Result<String, IdViolation> {
    switch self {
    case .integer(let min, let max):
      // Leading zeros are allowed (and dropped); 64 bytes is far beyond any Int64 with them.
      var value: Int64 = 0
      var digits = 0
      for byte in id.utf8 {
        guard byte >= 48 && byte <= 57, digits < 64 else { return .failure(IdViolation("must be a decimal integer")) }
        digits += 1
        let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (next, overflow2) = shifted.addingReportingOverflow(Int64(byte - 48))
        guard !overflow1 && !overflow2 else { return .failure(IdViolation("must be between \(min) and \(max)")) }
        value = next
      }
      guard digits > 0 else { return .failure(IdViolation("must be a decimal integer")) }
      guard value >= min && value <= max else { return .failure(IdViolation("must be between \(min) and \(max)")) }
      return .success(digits == 1 || id.utf8.first != 48 ? id : String(value))
    case .token(let maxLength):
      guard !id.isEmpty else { return .failure(IdViolation("must not be empty")) }
      guard id.utf8.count <= maxLength else { return .failure(IdViolation("must be at most \(maxLength) bytes")) }
      let allowed = id.utf8.allSatisfy {
        ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 || $0 == 46
          || $0 == 58
      }
      return allowed ? .success(id) : .failure(IdViolation("may contain only letters, digits, '_', '-', '.' and ':'"))
    }
  }

  /// Nil when `id` fits; otherwise why not.
  public func violation(_ id: String) -> String? {
    if case .failure(let violation) = canonical(id) { return violation.reason }
    return nil
  }
}

/// Why an id does not fit its entity's rule, e.g. "must be a decimal integer".
public struct IdViolation: Error, Sendable, Equatable {
  public let reason: String
  init(_ reason: String) { self.reason = reason }
}

/// An entity kind: its id rule, features and freshness bound.
public final class EntityDefinition: Sendable {
  public let name: String
  public let description: String
  public let idRule: IdRule
  /// Seconds after its event time at which an instance's data is `OUTSIDE_MAX_AGE`.
  public let maxAge: Double
  /// The stored features, then the window features (if any).
  public let features: [FeatureDefinition]
  /// Feature index by name.
  public let featureIndex: [String: Int]
  /// The position of stored feature `name` (one a writer may store); nil for a window feature
  /// (computed from the event stream) or an unknown name.
  public func storedFeaturePosition(_ name: String) -> Int? {
    featureIndex[name].flatMap { $0 < storedFeatureCount ? $0 : nil }
  }

  /// The streaming window features, served after the stored ones.
  public let windows: WindowFeatureSet?
  /// `windows != nil`, without copying the set out to ask (reads ask on every request).
  public let hasWindows: Bool
  /// How many of `features` come from the entity's hash; the rest are window features.
  public let storedFeatureCount: Int
  /// Each stored feature's default (nil: null), what a row starts from before its hash is read.
  let storedDefaults: [FeatureValue?]
  /// The window features' values and JSON when the entity has no recent events.
  let emptyWindows: (values: [FeatureValue?], rendered: [UInt8])?

  init(
    name: String, description: String, idRule: IdRule, maxAge: Double, features: [FeatureDefinition],
    windows: WindowFeatureSet? = nil
  ) {
    self.name = name
    self.description = description
    self.idRule = idRule
    self.maxAge = maxAge
    self.windows = windows
    hasWindows = windows != nil
    storedFeatureCount = features.count
    storedDefaults = features.map(\.defaultValue)
    let windowFeatures = (windows?.features ?? []).map { feature -> FeatureDefinition in
      let type: FeatureType
      switch feature.source {
      case .window(_, let aggregation): type = aggregation.featureType
      case .trailing(let aggregation): type = aggregation.featureType
      }
      return FeatureDefinition(name: feature.name, type: type, defaultValue: nil)
    }
    let features = features + windowFeatures
    self.features = features
    if let windows {
      // What an entity without events serves: `,"txn_count_1m":0,...}` after its stored features.
      let values = windows.values(of: StoredWindowEvents(), now: 0)
      var rendered: [UInt8] = []
      for (offset, value) in values.enumerated() {
        if storedFeatureCount + offset > 0 { rendered.append(UInt8(ascii: ",")) }
        rendered.append(contentsOf: features[storedFeatureCount + offset].jsonKey)
        JSONWriter.appendValue(value, to: &rendered)
      }
      rendered.append(UInt8(ascii: "}"))
      emptyWindows = (values, rendered)
    } else {
      emptyWindows = nil
    }
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

  /// The position of entity `name` in `entities`.
  /// A scan of the names when there are few (comparing a few short strings costs less than
  /// hashing one: every GET /features asks), the index otherwise.
  public func position(of name: String) -> Int? {
    guard entities.count <= 8 else { return byName[name] }
    for position in entities.indices where entities[position].name == name { return position }
    return nil
  }

  /// The Redis key of an instance: `<prefix>:<entity>:<id>`.
  public func redisKey(entity: String, id: String) -> String {
    "\(keyPrefix):\(entity):\(id)"
  }

  /// The hash of an instance's recent events, `<prefix>:win:{<entity>:<id>}`: the braces make
  /// its cluster slot that of `<entity>:<id>`, so the writer groups an entity's events by slot.
  public func windowEventsKey(entity: String, id: String) -> String {
    "\(keyPrefix):win:{\(entity):\(id)}"
  }

  /// What every `windowEventsKey` starts with.
  var windowEventsKeyPrefix: [UInt8] { Array("\(keyPrefix):win:".utf8) }
}
