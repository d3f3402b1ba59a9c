import Foundation
import Reactor

/// How large a model the server accepts. A model is outside data too: a file with millions of
/// nodes, or one tree that is a 200 000-node chain, would make every prediction slow (or the
/// load run out of memory). Each bound is a flag; the defaults are far above real fraud models
/// (the bundled one has 200 trees of depth 6, 12 000 nodes).
public struct ModelLimits: Sendable, Equatable {
  /// Nodes in all trees together.
  public var maxNodes = 2_000_000
  /// The deepest leaf of any tree (the root is depth 0).
  public var maxDepth = 64
  /// Trees in the model.
  public var maxTrees = 20_000

  public init() {}

  public func validate() throws {
    try ConfigurationError.check("model-max-nodes", maxNodes, in: 1...100_000_000)
    try ConfigurationError.check("model-max-depth", maxDepth, in: 1...10_000)
    try ConfigurationError.check("model-max-trees", maxTrees, in: 1...1_000_000)
  }
}

/// Why a model file was refused.
public struct ModelLoadError: Error, CustomStringConvertible, Sendable {
  public let description: String
  init(_ description: String) { self.description = description }
}

extension XGBoostModel {
  /// Loads the JSON model at `path`.
  public init(contentsOf path: String, limits: ModelLimits = ModelLimits()) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ModelLoadError("\(path): cannot read the model file")
    }
    do {
      try self.init(json: data, limits: limits)
    } catch let error as ModelLoadError {
      throw ModelLoadError("\(path): \(error.description)")
    }
  }

  /// Parses a model from the bytes of XGBoost's JSON format. Only what the evaluator supports
  /// is accepted: a gbtree booster of numerical splits with one output and a logistic objective.
  public init(json data: Data, limits: ModelLimits = ModelLimits()) throws {
    let prefix = Array(data.prefix(2))
    if prefix.count == 2, prefix[0] == UInt8(ascii: "{"), Array("iUIlL$#".utf8).contains(prefix[1]) {
      throw ModelLoadError("this is UBJSON; save the model as JSON (a file name ending in .json)")
    }
    let root: [String: Any]
    do {
      guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw ModelLoadError("not an XGBoost JSON model (the top level is not an object)")
      }
      root = object
    } catch let error as ModelLoadError {
      throw error
    } catch {
      throw ModelLoadError(
        "not valid JSON (\(error.localizedDescription)); save the model with Booster.save_model(\"model.json\")")
    }
    let learner = try Self.object(root["learner"], "learner")
    let version =
      (root["version"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue }.map(String.init)
      .joined(separator: ".") ?? "unknown"

    let objectiveName = try Self.string(
      Self.object(learner["objective"], "learner.objective")["name"], "learner.objective.name")
    guard let objective = Objective(rawValue: objectiveName) else {
      let supported = Objective.allCases.map(\.rawValue).joined(separator: ", ")
      throw ModelLoadError("objective '\(objectiveName)' is not supported (supported: \(supported))")
    }
    let booster = try Self.object(learner["gradient_booster"], "learner.gradient_booster")
    let boosterName = try Self.string(booster["name"], "learner.gradient_booster.name")
    guard boosterName == "gbtree" else {
      throw ModelLoadError("booster '\(boosterName)' is not supported; train with booster='gbtree'")
    }
    let parameters = try Self.object(learner["learner_model_param"], "learner.learner_model_param")
    if let classes = parameters["num_class"] as? String, let count = Int(classes), count > 1 {
      throw ModelLoadError("multi-class models (num_class \(count)) are not supported")
    }
    if let targets = parameters["num_target"] as? String, let count = Int(targets), count > 1 {
      throw ModelLoadError("multi-target models (num_target \(count)) are not supported")
    }
    let featureCount = Int(try Self.string(parameters["num_feature"], "learner_model_param.num_feature")) ?? -1
    guard let names = learner["feature_names"] as? [String], !names.isEmpty else {
      throw ModelLoadError(
        "the model has no feature_names; train on a DMatrix with feature_names so inputs can be matched by name")
    }
    guard names.count == featureCount else {
      throw ModelLoadError("\(names.count) feature_names for num_feature \(featureCount)")
    }
    guard Set(names).count == names.count else { throw ModelLoadError("feature_names repeat a name") }
    let baseScore = try Self.baseScore(parameters["base_score"])
    let baseMargin: Float
    switch objective {
    case .binaryLogistic, .regressionLogistic:
      guard baseScore > 0 && baseScore < 1 else {
        throw ModelLoadError("base_score \(baseScore) is not a probability for objective \(objectiveName)")
      }
      baseMargin = -logf(1 / baseScore - 1)
    case .binaryLogitRaw:
      baseMargin = baseScore
    }

    let model = try Self.object(booster["model"], "learner.gradient_booster.model")
    guard let trees = model["trees"] as? [[String: Any]] else {
      throw ModelLoadError("learner.gradient_booster.model.trees is missing")
    }
    guard trees.count <= limits.maxTrees else {
      throw ModelLoadError("\(trees.count) trees; at most \(limits.maxTrees) are accepted (--model-max-trees)")
    }
    var nodes: [Node] = []
    var roots: [Int32] = []
    var depths: [Int] = []
    for (treeIndex, tree) in trees.enumerated() {
      roots.append(Int32(nodes.count))
      depths.append(try Self.appendTree(tree, index: treeIndex, featureCount: featureCount, limits: limits, to: &nodes))
    }
    var attributes: [String: String] = [:]
    for (key, value) in learner["attributes"] as? [String: Any] ?? [:] {
      if let text = value as? String { attributes[key] = text }
    }
    self.init(
      featureNames: names, objective: objective, baseMargin: baseMargin, attributes: attributes,
      writerVersion: version, nodes: nodes, roots: roots, depths: depths)
  }

  /// `base_score` as 2.x writes it ("5E-1") or as 3.x does ("[5E-1]").
  static func baseScore(_ value: Any?) throws -> Float {
    guard var text = value as? String else { throw ModelLoadError("learner_model_param.base_score is missing") }
    if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
    guard !text.contains(","), let score = Float(text), score.isFinite else {
      throw ModelLoadError("base_score '\(text)' is not one finite number")
    }
    return score
  }

  /// Checks one tree and appends its nodes with child indices made absolute; returns its depth.
  static func appendTree(
    _ tree: [String: Any], index: Int, featureCount: Int, limits: ModelLimits, to nodes: inout [Node]
  ) throws -> Int {
    func numbers(_ key: String) throws -> [NSNumber] {
      guard let array = tree[key] as? [NSNumber] else { throw ModelLoadError("tree \(index): '\(key)' is missing") }
      return array
    }
    let left = try numbers("left_children")
    let right = try numbers("right_children")
    let features = try numbers("split_indices")
    let conditions = try numbers("split_conditions")
    let defaultLeft = try numbers("default_left")
    let count = left.count
    guard count > 0, [right.count, features.count, conditions.count, defaultLeft.count].allSatisfy({ $0 == count })
    else {
      throw ModelLoadError("tree \(index): node arrays differ in length")
    }
    guard nodes.count + count <= limits.maxNodes else {
      throw ModelLoadError(
        "more than \(limits.maxNodes) nodes (tree \(index) brings the total to \(nodes.count + count)); raise --model-max-nodes if the model is meant to be this large"
      )
    }
    if let types = tree["split_type"] as? [NSNumber], types.contains(where: { $0.intValue != 0 }) {
      throw ModelLoadError("tree \(index): categorical splits are not supported")
    }
    if let parameters = tree["tree_param"] as? [String: Any], let size = parameters["size_leaf_vector"] as? String,
      let leafSize = Int(size), leafSize > 1
    {
      throw ModelLoadError("tree \(index): vector leaves are not supported")
    }
    let offset = Int32(nodes.count)
    var depth = [Int](repeating: 0, count: count)
    for node in 0..<count {
      let leftChild = left[node].intValue
      let rightChild = right[node].intValue
      let value = conditions[node].floatValue
      guard value.isFinite else { throw ModelLoadError("tree \(index) node \(node): non-finite value") }
      if leftChild == -1 {
        let itself = offset + Int32(node)
        nodes.append(Node(feature: 0, value: value, left: itself, right: itself))
        continue
      }
      // Children after their parent: every walk ends.
      guard leftChild > node, leftChild < count, rightChild > node, rightChild < count else {
        throw ModelLoadError("tree \(index) node \(node): child index out of order or range")
      }
      let feature = features[node].intValue
      guard feature >= 0 && feature < featureCount else {
        throw ModelLoadError("tree \(index) node \(node): split on input \(feature) of \(featureCount)")
      }
      nodes.append(
        Node(
          feature: UInt32(feature) | (defaultLeft[node].intValue != 0 ? defaultLeftBit : 0), value: value,
          left: offset + Int32(leftChild), right: offset + Int32(rightChild)))
      depth[leftChild] = max(depth[leftChild], depth[node] + 1)
      depth[rightChild] = max(depth[rightChild], depth[node] + 1)
      guard depth[leftChild] <= limits.maxDepth && depth[rightChild] <= limits.maxDepth else {
        throw ModelLoadError(
          "tree \(index) is deeper than \(limits.maxDepth) levels; raise --model-max-depth if the model is meant to be this deep"
        )
      }
    }
    return depth.max() ?? 0
  }

  private static func object(_ value: Any?, _ path: String) throws -> [String: Any] {
    guard let object = value as? [String: Any] else { throw ModelLoadError("\(path) is missing") }
    return object
  }

  private static func string(_ value: Any?, _ path: String) throws -> String {
    guard let text = value as? String else { throw ModelLoadError("\(path) is missing") }
    return text
  }
}
