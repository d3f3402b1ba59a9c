/// An XGBoost gradient-boosted tree model, loaded from the JSON file that
/// `Booster.save_model("model.json")` writes (XGBoost 2.x and 3.x), scored natively.
///
/// Every tree is flattened into one array of 16-byte nodes, so a prediction walks contiguous
/// memory. Inputs are compared as `Float`, as XGBoost does; a NaN input is missing and follows
/// the node's default direction. Immutable and safe to share between threads.
public struct XGBoostModel: Sendable {
  /// What the summed tree margins are turned into.
  public enum Objective: String, Sendable, CaseIterable {
    case binaryLogistic = "binary:logistic"
    case regressionLogistic = "reg:logistic"
    case binaryLogitRaw = "binary:logitraw"
  }

  /// One tree node. `feature` is the input index of a split, with `defaultLeftBit` set when
  /// missing values go left, or `leafMarker` for a leaf whose output is `value`.
  struct Node: Sendable {
    var feature: UInt32
    /// The split threshold (go left when input < threshold), or the leaf's output.
    var value: Float
    var left: Int32
    var right: Int32
  }

  static let leafMarker: UInt32 = 0x7FFF_FFFF
  static let defaultLeftBit: UInt32 = 0x8000_0000

  /// The model's input names, in input order (`feature_names` in the file).
  public let featureNames: [String]
  public let objective: Objective
  /// The margin every prediction starts from, derived from the stored `base_score`.
  public let baseMargin: Float
  /// The booster's attributes (`Booster.set_attr`), e.g. `model_version`.
  public let attributes: [String: String]
  /// The XGBoost version that wrote the file, e.g. "3.2.0".
  public let writerVersion: String
  let nodes: [Node]
  let roots: [Int32]

  /// Number of trees.
  public var treeCount: Int { roots.count }

  init(
    featureNames: [String], objective: Objective, baseMargin: Float, attributes: [String: String],
    writerVersion: String, nodes: [Node], roots: [Int32]
  ) {
    self.featureNames = featureNames
    self.objective = objective
    self.baseMargin = baseMargin
    self.attributes = attributes
    self.writerVersion = writerVersion
    self.nodes = nodes
    self.roots = roots
  }

  /// The raw score: base margin plus every tree's leaf for `inputs` (NaN = missing).
  /// `inputs` must hold `featureNames.count` values.
  public func margin(_ inputs: UnsafeBufferPointer<Float>) -> Float {
    precondition(inputs.count >= featureNames.count, "model input vector too short")
    var sum: Float = 0
    nodes.withUnsafeBufferPointer { nodes in
      for root in roots {
        var index = Int(root)
        while true {
          let node = nodes[index]
          let feature = node.feature & ~XGBoostModel.defaultLeftBit
          if feature == XGBoostModel.leafMarker {
            sum += node.value
            break
          }
          let input = inputs[Int(feature)]
          let goLeft = input.isNaN ? node.feature & XGBoostModel.defaultLeftBit != 0 : input < node.value
          index = Int(goLeft ? node.left : node.right)
        }
      }
    }
    return sum + baseMargin
  }

  /// The model's output for `inputs`: a probability for the logistic objectives, the margin
  /// for `binary:logitraw`.
  public func predict(_ inputs: UnsafeBufferPointer<Float>) -> Float {
    let raw = margin(inputs)
    switch objective {
    case .binaryLogistic, .regressionLogistic: return 1 / (1 + expf(-raw))
    case .binaryLogitRaw: return raw
    }
  }

  /// `predict` for a vector of doubles (NaN = missing), converted to `Float` as XGBoost does.
  public func predict(_ inputs: [Double]) -> Float {
    let floats = inputs.map { Float($0) }
    return floats.withUnsafeBufferPointer { predict($0) }
  }
}

#if canImport(Glibc)
  import Glibc
#endif
