import Foundation
import TestSupport
import XCTest

@testable import FeatureServer

final class XGBoostModelTests: XCTestCase {
  static let fixtures = packageRoot.appendingPathComponent("Tests/FeatureServerTests/Fixtures")
  static let shippedModel = packageRoot.appendingPathComponent("models/fraud_xgb.json").path

  /// Rows of a parity CSV: the inputs (nil for an empty cell) and XGBoost's output.
  static func parityRows(_ name: String) throws -> (names: [String], rows: [([Double], Double)]) {
    let text = try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    var lines = text.split(whereSeparator: \.isNewline).map {
      $0.split(separator: ",", omittingEmptySubsequences: false)
    }
    let header = lines.removeFirst().map(String.init)
    let rows = try lines.map { cells -> ([Double], Double) in
      let inputs = cells.dropLast().map { $0.isEmpty ? Double.nan : Double($0)! }
      return (Array(inputs), try XCTUnwrap(Double(cells.last!)))
    }
    return (Array(header.dropLast()), rows)
  }

  /// The shipped model reproduces XGBoost's probabilities on all 1 000 parity rows within 1e-6.
  func testShippedModelMatchesXGBoostOnEveryParityVector() throws {
    let model = try XGBoostModel(contentsOf: Self.shippedModel)
    let (names, rows) = try Self.parityRows("fraud_xgb_parity.csv")
    XCTAssertEqual(model.featureNames, names)
    XCTAssertEqual(rows.count, 1000)
    XCTAssertGreaterThanOrEqual(rows.filter { $0.0.contains { $0.isNaN } }.count, 200, "rows with missing values")
    XCTAssertEqual(model.objective, .binaryLogistic)
    XCTAssertEqual(model.attributes["model_version"]?.hasPrefix("fraud_xgb-"), true)
    var worst = 0.0
    for (index, (inputs, expected)) in rows.enumerated() {
      let predicted = Double(model.predict(inputs))
      worst = max(worst, abs(predicted - expected))
      XCTAssertEqual(predicted, expected, accuracy: 1e-6, "row \(index)")
    }
    XCTAssertLessThan(worst, 1e-6)
  }

  /// Each supported objective, as XGBoost 2.x and 3.x write it (base_score "5E-1" and "[5E-1]").
  func testEveryObjectiveFromBothMajorVersionsMatchesXGBoost() throws {
    for major in [2, 3] {
      for objective in XGBoostModel.Objective.allCases {
        let stem = "models/xgb\(major)_\(objective.rawValue.replacingOccurrences(of: ":", with: "_"))"
        let model = try XGBoostModel(contentsOf: Self.fixtures.appendingPathComponent(stem + ".json").path)
        XCTAssertEqual(model.objective, objective, stem)
        XCTAssertEqual(model.writerVersion.first, "\(major)".first, stem)
        let (names, rows) = try Self.parityRows(stem + ".csv")
        XCTAssertEqual(model.featureNames, names)
        XCTAssertTrue(rows.contains { $0.0.contains { $0.isNaN } })
        for (index, (inputs, expected)) in rows.enumerated() {
          XCTAssertEqual(
            Double(model.predict(inputs)), expected, accuracy: 1e-5 * max(1, abs(expected)), "\(stem) row \(index)")
        }
      }
    }
  }

  /// A missing input follows the node's default direction, not a comparison with NaN.
  func testMissingInputsFollowTheDefaultDirection() throws {
    func margin(_ model: XGBoostModel, _ x: Float) -> Float { [x].withUnsafeBufferPointer { model.margin($0) } }
    let model = try XGBoostModel(json: Data(Self.stump(defaultLeft: 1).utf8))
    XCTAssertEqual(margin(model, .nan), -1 + model.baseMargin)
    let right = try XGBoostModel(json: Data(Self.stump(defaultLeft: 0).utf8))
    XCTAssertEqual(margin(right, .nan), 2 + right.baseMargin)
    XCTAssertEqual(margin(right, 0.49), -1 + right.baseMargin)
    XCTAssertEqual(margin(right, 0.5), 2 + right.baseMargin, "x < t goes left")
    XCTAssertEqual(right.baseMargin, 0, accuracy: 1e-7, "base_score 0.5 is margin 0")
  }

  /// Unsupported models are refused with a message that says why.
  func testUnsupportedModelsAreRefusedWithAReason() {
    let cases: [(String, String)] = [
      (
        Self.stump().replacingOccurrences(of: "binary:logistic", with: "multi:softprob"),
        "objective 'multi:softprob' is not supported"
      ),
      (Self.stump().replacingOccurrences(of: "\"gbtree\"", with: "\"dart\""), "booster 'dart' is not supported"),
      (
        Self.stump().replacingOccurrences(of: "\"split_type\":[0,0,0]", with: "\"split_type\":[1,0,0]"),
        "categorical splits"
      ),
      (Self.stump().replacingOccurrences(of: "\"feature_names\":[\"x\"],", with: ""), "no feature_names"),
      (
        Self.stump().replacingOccurrences(of: "\"left_children\":[1,-1,-1]", with: "\"left_children\":[0,-1,-1]"),
        "child index"
      ),
      (
        Self.stump().replacingOccurrences(of: "\"split_indices\":[0,0,0]", with: "\"split_indices\":[3,0,0]"),
        "split on input 3 of 1"
      ),
      (Self.stump().replacingOccurrences(of: "\"[5E-1]\"", with: "\"[5E-1,2E-1]\""), "not one finite number"),
      ("{\"learner\": 3}", "learner is missing"),
      ("{\"x\":", "not valid JSON"),
      ("{L\u{0}\u{0}", "UBJSON"),
    ]
    for (json, expected) in cases {
      XCTAssertThrowsError(try XGBoostModel(json: Data(json.utf8)), expected) { error in
        XCTAssertTrue("\(error)".contains(expected), "\(error) should say \(expected)")
      }
    }
    XCTAssertThrowsError(try XGBoostModel(contentsOf: "/nonexistent/model.json")) { error in
      XCTAssertTrue("\(error)".contains("/nonexistent/model.json: cannot read"))
    }
  }

  /// One tree: x < 0.5 → -1, else 2; missing goes left when `defaultLeft` is 1.
  static func stump(defaultLeft: Int = 0) -> String {
    """
    {"learner":{"attributes":{},"feature_names":["x"],"feature_types":["float"],
    "gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1"},
    "iteration_indptr":[0,1],"tree_info":[0],"trees":[{"base_weights":[0,-1,2],"categories":[],
    "categories_nodes":[],"categories_segments":[],"categories_sizes":[],"default_left":[\(defaultLeft),0,0],
    "id":0,"left_children":[1,-1,-1],"loss_changes":[1,0,0],"parents":[2147483647,0,0],
    "right_children":[2,-1,-1],"split_conditions":[0.5,-1,2],"split_indices":[0,0,0],"split_type":[0,0,0],
    "sum_hessian":[3,1,2],"tree_param":{"num_deleted":"0","num_feature":"1","num_nodes":"3","size_leaf_vector":"1"}}]},
    "name":"gbtree"},"learner_model_param":{"base_score":"[5E-1]","boost_from_average":"1","num_class":"0",
    "num_feature":"1","num_target":"1"},"objective":{"name":"binary:logistic","reg_loss_param":{"scale_pos_weight":"1"}}},
    "version":[3,2,0]}
    """
  }
}
