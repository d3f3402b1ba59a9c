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
  /// missing values go left. A leaf's children are itself and its `value` is its output.
  struct Node: Sendable {
    var feature: UInt32
    /// The split threshold (go left when input < threshold), or the leaf's output.
    var value: Float
    var left: Int32
    var right: Int32
  }

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
  /// The longest root-to-leaf path (in steps) of each group of `interleave` trees.
  let groupDepths: [Int]

  /// Number of trees.
  public var treeCount: Int { roots.count }

  init(
    featureNames: [String], objective: Objective, baseMargin: Float, attributes: [String: String],
    writerVersion: String, nodes: [Node], roots: [Int32], depths: [Int]
  ) {
    self.featureNames = featureNames
    self.objective = objective
    self.baseMargin = baseMargin
    self.attributes = attributes
    self.writerVersion = writerVersion
    self.nodes = nodes
    self.roots = roots
    groupDepths = stride(from: 0, to: depths.count, by: XGBoostModel.interleave).map {
      depths[$0..<min($0 + XGBoostModel.interleave, depths.count)].max() ?? 0
    }
  }

  /// Trees walked side by side: their walks are independent chains of loads, so interleaving
  /// them hides memory latency (one walk alone waits on each node in turn).
  static let interleave = 16

  /// The raw score: base margin plus every tree's leaf for `inputs` (NaN = missing).
  /// `inputs` must hold `featureNames.count` values.
  ///
  /// Leaves point to themselves, so every walk of a group takes the group's deepest path length
  /// in steps, without a leaf test; each step picks a child without a branch.
  public func margin(_ inputs: UnsafeBufferPointer<Float>) -> Float {
    precondition(inputs.count >= featureNames.count, "model input vector too short")
    let width = XGBoostModel.interleave
    var sum: Float = 0
    nodes.withUnsafeBufferPointer { nodes in
      withUnsafeTemporaryAllocation(of: Int32.self, capacity: width) { cursor in
        var first = 0
        var group = 0
        while first < roots.count {
          let count = min(width, roots.count - first)
          for lane in 0..<count { cursor[lane] = roots[first + lane] }
          for _ in 0..<groupDepths[group] {
            for lane in 0..<count {
              let node = nodes[Int(cursor[lane])]
              let input = inputs[Int(node.feature & ~XGBoostModel.defaultLeftBit)]
              let isMissing: UInt32 = input.isNaN ? 1 : 0
              let isLess: UInt32 = input < node.value ? 1 : 0
              let goLeft = Int32(bitPattern: isLess | (isMissing & (node.feature >> 31)))
              cursor[lane] = node.right &+ (node.left &- node.right) &* goLeft
            }
          }
          // In tree order, as XGBoost adds them.
          for lane in 0..<count { sum += nodes[Int(cursor[lane])].value }
          first += count
          group += 1
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
