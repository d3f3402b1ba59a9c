import Codecs
import RedisPool

/// A feature of a Feast feature view, with the Redis hash field Feast stores it under.
public struct FeastFeature: Sendable {
  public let name: String
  /// `<view>__<feature>`, the column name with `full_feature_names`.
  public let fullName: String
  /// Both names as JSON strings, for the response's `feature_names`.
  let nameJSON: [UInt8]
  let fullNameJSON: [UInt8]
  public let type: FeastValueType
  /// The little-endian bytes of MurmurHash3_x86_32("<view>:<feature>").
  public let field: [UInt8]
}

/// A join key of a feature view: the request column that carries it and its type.
public struct FeastJoinKey: Sendable {
  public let name: String
  /// `.invalid` when the registry does not say (Feast then infers it from the JSON value).
  public let type: FeastValueType
}

/// A Feast feature view (or a stream feature view) that the server reads from Redis. Immutable;
/// it is also the `RowSource` of its rows: HMGET of every feature's field and `_ts:<view>`.
public final class FeastFeatureView: RowSource, @unchecked Sendable {
  public let name: String
  /// Its position in the registry: part of its rows' cache keys.
  public let index: Int
  /// Which read of the registry file it comes from: part of its rows' cache keys too.
  public let generation: UInt16
  public let joinKeys: [FeastJoinKey]
  public let features: [FeastFeature]
  public let featureIndex: [String: Int]
  /// The view's ttl in seconds (0: none): applied only with `--feast-enforce-ttl`.
  public let ttlSeconds: Int64
  /// The push source that feeds it, if any.
  public let pushSource: String?
  /// Its batch source's event time column (writes also accept `event_timestamp`).
  public let timestampColumn: String?
  /// `_ts:<view>`.
  let timestampField: [UInt8]
  /// The HMGET arguments after the key: every feature's field, then `_ts:<view>`.
  let fieldArguments: RedisCommand.EncodedArguments
  /// Join keys in the order Feast serialises them (by name, as bytes).
  let sortedJoinKeys: [Int]

  init(
    name: String, index: Int, generation: UInt16 = 0, joinKeys: [FeastJoinKey],
    features: [(name: String, type: FeastValueType)],
    ttlSeconds: Int64, pushSource: String?, timestampColumn: String?
  ) {
    self.name = name
    self.index = index
    self.generation = generation
    self.joinKeys = joinKeys
    self.features = features.map {
      FeastFeature(
        name: $0.name, fullName: "\(name)__\($0.name)", nameJSON: JSONText.quotedBytes($0.name),
        fullNameJSON: JSONText.quotedBytes("\(name)__\($0.name)"), type: $0.type,
        field: FeastFeatureView.field(view: name, feature: $0.name))
    }
    var byName: [String: Int] = [:]
    for (position, feature) in features.enumerated() where byName[feature.name] == nil {
      byName[feature.name] = position
    }
    featureIndex = byName
    self.ttlSeconds = ttlSeconds
    self.pushSource = pushSource
    self.timestampColumn = timestampColumn
    timestampField = Array("_ts:\(name)".utf8)
    fieldArguments = RedisCommand.EncodedArguments(self.features.map(\.field) + [timestampField])
    sortedJoinKeys = joinKeys.indices.sorted {
      joinKeys[$0].name.utf8.lexicographicallyPrecedes(joinKeys[$1].name.utf8)
    }
  }

  /// Feast's hash field of a feature: the 4 little-endian bytes of its name's MurmurHash3.
  static func field(view: String, feature: String) -> [UInt8] {
    withUnsafeBytes(of: MurmurHash3.x86_32("\(view):\(feature)").littleEndian) { Array($0) }
  }

  // MARK: RowSource

  func errorLabel(nativeEntityCount: Int) -> Int { nativeEntityCount + index }

  /// A row's cache key: a tag byte that no native key starts with (0xFF is never in UTF-8), the
  /// registry's generation and the view's index, then the Redis key.
  func rowKey(redisKey: [UInt8]) -> RowKey {
    var bytes = rowKeyPrefix
    bytes.append(contentsOf: redisKey)
    return RowKey(bytes)
  }

  /// The row's cache key for the entity key made of `parts` (see `rowKey(redisKey:)`).
  func rowKey(parts: [[UInt8]?], project: [UInt8]) -> RowKey {
    var bytes = rowKeyPrefix
    FeastEntityKey.appendRedisKey(view: self, parts: parts, project: project, to: &bytes)
    return RowKey(bytes)
  }

  /// 0xFF, the registry's generation, the view's index (see `rowKey(redisKey:)`).
  var rowKeyPrefix: [UInt8] {
    [
      0xFF, UInt8(truncatingIfNeeded: generation >> 8), UInt8(truncatingIfNeeded: generation),
      UInt8(truncatingIfNeeded: index >> 8), UInt8(truncatingIfNeeded: index),
    ]
  }
  static let rowKeyPrefixCount = 5

  func readCommand(_ key: RowKey) -> RedisCommand {
    RedisCommand("HMGET", key: Array(key.bytes.dropFirst(Self.rowKeyPrefixCount)), tail: fieldArguments)
  }

  func decode(_ reply: RedisReplyView) -> RowDecoding {
    guard reply.kind == .array, reply.count == features.count + 1 else {
      return .invalid(detail: NativeRowSource.describe(reply) + " (expected \(features.count + 1) HMGET values)")
    }
    let row = FeastRow(reply: reply, view: self)
    return .row(.feast(row), decodeErrors: row.decodeErrors)
  }
}

/// A feature view as a feature service (or a request) uses it: a subset of its features, maybe
/// under another name.
public struct FeastProjection: Sendable {
  public let view: FeastFeatureView
  /// The name used in full feature names (`<name>__<feature>`): the alias, or the view's name.
  public let name: String
  /// Feature positions in the view, in the service's order.
  public let features: [Int]
}

/// A Feast feature service: the projections it serves.
public struct FeastFeatureService: Sendable {
  public let name: String
  public let projections: [FeastProjection]
}

/// What the server serves of a Feast repository: its project, entities, feature views, feature
/// services and push sources, from the registry file; and what it cannot serve, with why.
public struct FeastRegistry: Sendable {
  public let project: String
  /// Join key by entity name.
  public let joinKeyOfEntity: [String: String]
  /// Type of each join key, from the entities (`.invalid` when an entity declares none).
  public let joinKeyTypes: [String: FeastValueType]
  public let views: [FeastFeatureView]
  public let viewByName: [String: FeastFeatureView]
  /// `"<view>:<feature>"` of every served feature: a request's references are looked up whole,
  /// without splitting them (they are split only to name what is wrong with one).
  public let featureByReference: [String: (view: FeastFeatureView, feature: Int)]
  public let services: [String: FeastFeatureService]
  /// Feature views fed by each push source.
  public let pushSources: [String: [FeastFeatureView]]
  /// Objects in the registry that this server does not serve, and why (listed at start; asking
  /// for them gets Feast's error).
  public let notServed: [(kind: String, name: String, reason: String)]
  /// Feature view names that exist but are not served (on-demand, offline only, disabled...), with why.
  public let unservedViews: [String: String]

  init(
    project: String, joinKeyOfEntity: [String: String], joinKeyTypes: [String: FeastValueType],
    views: [FeastFeatureView], services: [String: FeastFeatureService], pushSources: [String: [FeastFeatureView]],
    notServed: [(kind: String, name: String, reason: String)], unservedViews: [String: String]
  ) {
    self.project = project
    self.joinKeyOfEntity = joinKeyOfEntity
    self.joinKeyTypes = joinKeyTypes
    self.views = views
    viewByName = Dictionary(views.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    var references: [String: (view: FeastFeatureView, feature: Int)] = [:]
    for view in views {
      for (position, feature) in view.features.enumerated() where view.featureIndex[feature.name] == position {
        references["\(view.name):\(feature.name)"] = (view, position)
      }
    }
    featureByReference = references
    self.services = services
    self.pushSources = pushSources
    self.notServed = notServed
    self.unservedViews = unservedViews
  }
}
