import Codecs
import Foundation
import Yams

/// A registry file that cannot be used: the file, the line and the reason.
public struct RegistryError: Error, CustomStringConvertible, Equatable {
  public let file: String
  public let line: Int?
  public let reason: String

  public var description: String {
    if let line { return "\(file):\(line): \(reason)" }
    return "\(file): \(reason)"
  }
}

/// Reads a registry YAML file, checking every field so a mistake fails at start-up with its line.
public enum RegistryLoader {
  /// The registry bundled with the project (`registry/finserve.yaml`).
  public static var bundledPath: String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("registry/finserve.yaml").path
  }

  public static func load(path: String) throws -> Registry {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw RegistryError(file: path, line: nil, reason: "cannot read the file")
    }
    return try parse(String(decoding: data, as: UTF8.self), file: path)
  }

  public static func parse(_ text: String, file: String = "<registry>") throws -> Registry {
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        throw RegistryError(file: file, line: nil, reason: "the file is empty")
      }
      root = node
    } catch let error as RegistryError {
      throw error
    } catch let error as YamlError {
      throw RegistryError(file: file, line: yamlErrorLine(error), reason: "not valid YAML: \(error)")
    }
    let context = Context(file: file)
    let top = try context.mapping(root, "the registry")
    try context.allowOnly(["project", "redis_key_prefix", "entities"], in: top, root)
    let project = try context.string(top["project"], "project", parent: root)
    let prefix = try context.string(top["redis_key_prefix"], "redis_key_prefix", parent: root)
    guard !prefix.isEmpty, !prefix.contains(":"), !prefix.contains(" ") else {
      throw context.error(top["redis_key_prefix"], "redis_key_prefix must be non-empty, without ':' or spaces")
    }
    guard let entitiesNode = top["entities"] else { throw context.error(root, "missing 'entities'") }
    let entitiesMap = try context.mapping(entitiesNode, "entities")
    var entities: [EntityDefinition] = []
    for (keyNode, value) in entitiesMap {
      let name = try context.string(keyNode, "an entity name", parent: entitiesNode)
      try context.checkName(name, keyNode, "entity name")
      entities.append(try entity(name: name, value, context))
    }
    guard !entities.isEmpty else { throw context.error(entitiesNode, "'entities' is empty") }
    return Registry(project: project, keyPrefix: prefix, entities: entities)
  }

  private static func entity(name: String, _ node: Node, _ context: Context) throws -> EntityDefinition {
    let map = try context.mapping(node, "entity '\(name)'")
    try context.allowOnly(["description", "id", "max_age", "features", "windows"], in: map, node)
    let description = try map["description"].map { try context.string($0, "description", parent: node) } ?? ""
    guard let idNode = map["id"] else { throw context.error(node, "entity '\(name)' has no 'id' rule") }
    let idRule = try self.idRule(idNode, context)
    guard let maxAgeNode = map["max_age"] else { throw context.error(node, "entity '\(name)' has no 'max_age'") }
    let maxAgeText = try context.string(maxAgeNode, "max_age", parent: node)
    guard let maxAge = DurationText.seconds(maxAgeText) else {
      throw context.error(maxAgeNode, "max_age '\(maxAgeText)' is not a duration like 90s, 10m, 24h or 7d")
    }
    guard let featuresNode = map["features"], let list = featuresNode.sequence, !list.isEmpty else {
      throw context.error(map["features"] ?? node, "entity '\(name)' needs a non-empty 'features' list")
    }
    var features: [FeatureDefinition] = []
    var seen = Set<String>()
    for featureNode in list {
      let feature = try self.feature(featureNode, context)
      guard seen.insert(feature.name).inserted else {
        throw context.error(featureNode, "feature '\(feature.name)' is declared twice in '\(name)'")
      }
      features.append(feature)
    }
    var windows: WindowFeatureSet? = nil
    if let windowsNode = map["windows"] {
      let set = try self.windows(windowsNode, context)
      for feature in set.features {
        guard seen.insert(feature.name).inserted else {
          throw context.error(
            windowsNode, "window feature '\(feature.name)' has the name of another feature of '\(name)'")
        }
      }
      windows = set
    }
    return EntityDefinition(
      name: name, description: description, idRule: idRule, maxAge: maxAge, features: features, windows: windows)
  }

  /// `windows: {key, value, slide, watermark, sizes, aggregations[, count_name][, trailing]}`.
  private static func windows(_ node: Node, _ context: Context) throws -> WindowFeatureSet {
    let map = try context.mapping(node, "windows")
    try context.allowOnly(
      ["key", "value", "slide", "watermark", "sizes", "aggregations", "count_name", "trailing"], in: map, node)
    let key = try context.string(map["key"], "windows key (the event field with the entity id)", parent: node)
    let value = try context.string(map["value"], "windows value (the event field aggregated)", parent: node)
    try context.checkName(value, map["value"] ?? node, "windows value")
    let slide = try duration(map["slide"], "slide", parent: node, context)
    let delay = try duration(map["watermark"], "watermark", parent: node, context)
    guard let sizesNode = map["sizes"], let sizeList = sizesNode.sequence, !sizeList.isEmpty else {
      throw context.error(map["sizes"] ?? node, "windows need a non-empty 'sizes' list, e.g. [1m, 5m, 1h]")
    }
    var windows: [(label: String, window: SlidingWindow)] = []
    for sizeNode in sizeList {
      let label = try context.string(sizeNode, "a window size", parent: sizesNode)
      let size = try duration(sizeNode, "window size", parent: sizesNode, context)
      guard size >= slide, size % slide == 0 else {
        throw context.error(sizeNode, "window size \(label) must be a whole number of slides")
      }
      guard !windows.contains(where: { $0.label == label }) else {
        throw context.error(sizeNode, "window size \(label) is listed twice")
      }
      windows.append((label, SlidingWindow(size: size, slide: slide)))
    }
    let aggregations = try self.aggregations(map["aggregations"], parent: node, context)
    let countName = try map["count_name"].map { try context.string($0, "count_name", parent: node) } ?? "txn_count"
    try context.checkName(countName, map["count_name"] ?? node, "count_name")
    var trailing: (label: String, length: Int64)? = nil
    var trailingAggregations: [WindowAggregation] = []
    if let trailingNode = map["trailing"] {
      let trailingMap = try context.mapping(trailingNode, "trailing")
      try context.allowOnly(["over", "aggregations"], in: trailingMap, trailingNode)
      let label = try context.string(trailingMap["over"], "trailing 'over' (e.g. 60s)", parent: trailingNode)
      trailing = (label, try duration(trailingMap["over"], "trailing over", parent: trailingNode, context))
      trailingAggregations = try self.aggregations(trailingMap["aggregations"], parent: trailingNode, context)
    }
    var schema = WindowEventSchema(keyField: key, valueField: value)
    schema.requiresTransactionID = true
    return WindowFeatureSet(
      schema: schema, slide: slide, delay: delay, windows: windows, aggregations: aggregations, countName: countName,
      trailing: trailing, trailingAggregations: trailingAggregations)
  }

  private static func aggregations(_ node: Node?, parent: Node, _ context: Context) throws -> [WindowAggregation] {
    guard let node, let list = node.sequence, !list.isEmpty else {
      throw context.error(node ?? parent, "a non-empty 'aggregations' list is needed, e.g. [count, sum, mean, std]")
    }
    return try list.map { item in
      let text = try context.string(item, "an aggregation", parent: node)
      guard let aggregation = WindowAggregation(rawValue: text) else {
        throw context.error(
          item,
          "unknown aggregation '\(text)'; expected one of \(WindowAggregation.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
      return aggregation
    }
  }

  /// A duration in whole microseconds, from 1 ms up to 7 days.
  private static func duration(_ node: Node?, _ what: String, parent: Node, _ context: Context) throws -> Int64 {
    let text = try context.string(node, what, parent: parent)
    guard let seconds = DurationText.seconds(text), seconds >= 0.001, seconds <= 7 * 86_400 else {
      throw context.error(node ?? parent, "\(what) '\(text)' is not a duration from 1ms to 7d, like 15s, 2m or 1h")
    }
    return Int64((seconds * 1_000_000).rounded())
  }

  private static func idRule(_ node: Node, _ context: Context) throws -> IdRule {
    let map = try context.mapping(node, "id")
    let type = try context.string(map["type"], "id type", parent: node)
    switch type {
    case "integer":
      try context.allowOnly(["type", "min", "max"], in: map, node)
      let min = try map["min"].map { try context.integer($0, "min") } ?? 0
      let max = try map["max"].map { try context.integer($0, "max") } ?? Int64.max
      guard min <= max else { throw context.error(node, "id min \(min) is above max \(max)") }
      return .integer(min: min, max: max)
    case "token":
      try context.allowOnly(["type", "max_length"], in: map, node)
      let length = try map["max_length"].map { try context.integer($0, "max_length") } ?? 64
      guard length >= 1 && length <= 512 else { throw context.error(node, "max_length must be 1...512") }
      return .token(maxLength: Int(length))
    default:
      throw context.error(map["type"] ?? node, "id type must be 'integer' or 'token', got '\(type)'")
    }
  }

  private static func feature(_ node: Node, _ context: Context) throws -> FeatureDefinition {
    let map = try context.mapping(node, "a feature")
    try context.allowOnly(["name", "type", "default", "description"], in: map, node)
    let name = try context.string(map["name"], "feature name", parent: node)
    try context.checkName(name, map["name"] ?? node, "feature name")
    guard name != "_ts" else { throw context.error(node, "'_ts' is reserved for the event time") }
    let typeText = try context.string(map["type"], "feature type", parent: node)
    guard let type = FeatureType(rawValue: typeText) else {
      throw context.error(
        map["type"] ?? node,
        "feature '\(name)' has type '\(typeText)'; expected one of \(FeatureType.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    var defaultValue: FeatureValue? = nil
    if let defaultNode = map["default"], let text = defaultNode.scalar?.string, text != "null", text != "~" {
      guard let value = FeatureValue(text: text, as: type) else {
        throw context.error(defaultNode, "default '\(text)' of feature '\(name)' is not a \(type.rawValue)")
      }
      defaultValue = value
    }
    return FeatureDefinition(name: name, type: type, defaultValue: defaultValue)
  }

  private static func yamlErrorLine(_ error: YamlError) -> Int? {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
    default: return nil
    }
  }

  /// Error helpers that know the file.
  private struct Context {
    let file: String

    func error(_ node: Node?, _ reason: String) -> RegistryError {
      RegistryError(file: file, line: node?.mark?.line, reason: reason)
    }

    func mapping(_ node: Node, _ what: String) throws -> Node.Mapping {
      guard let map = node.mapping else { throw error(node, "\(what) must be a mapping") }
      return map
    }

    func string(_ node: Node?, _ what: String, parent: Node) throws -> String {
      guard let node else { throw error(parent, "missing \(what)") }
      guard let text = node.scalar?.string else { throw error(node, "\(what) must be a single value") }
      return text
    }

    func integer(_ node: Node, _ what: String) throws -> Int64 {
      guard let text = node.scalar?.string, let value = Int64(text) else {
        throw error(node, "\(what) must be an integer")
      }
      return value
    }

    func checkName(_ name: String, _ node: Node, _ what: String) throws {
      let valid =
        !name.isEmpty && name.utf8.count <= 64
        && name.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
        && !(name.utf8.first.map { $0 >= 48 && $0 <= 57 } ?? true)
      guard valid else {
        throw error(node, "\(what) '\(name)' must be lowercase letters, digits and '_', starting with a letter")
      }
    }

    func allowOnly(_ keys: Set<String>, in map: Node.Mapping, _ node: Node) throws {
      for (key, _) in map {
        guard let name = key.scalar?.string, keys.contains(name) else {
          throw error(
            key, "unknown key '\(key.scalar?.string ?? "?")'; expected one of \(keys.sorted().joined(separator: ", "))")
        }
      }
    }
  }
}
