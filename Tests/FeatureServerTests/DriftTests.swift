import Foundation
import TestSupport
import XCTest

@testable import FeatureServer

/// The drift histograms and their PSI and KS, checked against numpy on the same samples.
final class DriftTests: XCTestCase {
  static let referencePath = packageRoot.appendingPathComponent("models/fraud_xgb.reference.json").path

  func makeTracker(window: Double = 600, loops: Int = 2) throws -> DriftTracker {
    let model = try XGBoostModel(contentsOf: packageRoot.appendingPathComponent("models/fraud_xgb.json").path)
    let reference = try DriftReference(path: Self.referencePath, inputNames: model.featureNames)
    return DriftTracker(reference: reference, window: window, loops: loops)
  }

  /// `count` vectors whose bins follow `proportions(feature)` (a value inside the chosen bin).
  static func samples(
    _ reference: DriftReference, count: Int, seed: UInt64, proportions: (DriftReference.Feature) -> [Double]
  ) -> [[Float]] {
    var generator = SplitMix(seed: seed)
    return (0..<count).map { _ in
      reference.features.map { feature in
        let shares = proportions(feature)
        var pick = Double.random(in: 0..<1, using: &generator) * shares.reduce(0, +)
        var bin = shares.count - 1
        for (index, share) in shares.enumerated() {
          if pick < share {
            bin = index
            break
          }
          pick -= share
        }
        let edges = feature.edges
        if bin == edges.count + 1 { return .nan }
        let low = bin == 0 ? (edges.first ?? 0) - 10 : edges[bin - 1]
        let high = bin == edges.count ? (edges.last ?? 0) + 10 : edges[bin]
        // Inside [low, high) after rounding to Float, as the server sees it.
        var value = Float(Double.random(in: low..<high, using: &generator))
        if Double(value) >= high { value = value.nextDown }
        if Double(value) < low { value = value.nextUp }
        return value
      }
    }
  }

  func testPSIAndKSMatchNumpyOnReferenceAndShiftedSamples() throws {
    let python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: python),
      (try? runCommand(python, ["-c", "import numpy"]).status) == 0
    else { throw XCTSkip("Debian's python3-numpy is not installed (scripts/setup.sh installs it)") }
    let start: UInt64 = 1_000 * 1_000_000_000
    for (name, seed, shift) in [("reference", UInt64(1), false), ("shifted", UInt64(2), true)] {
      let tracker = try makeTracker()
      let vectors = Self.samples(tracker.reference, count: 6000, seed: seed) { feature in
        // Shifted: the value bins in reverse order, and five times the missing share.
        shift
          ? Array(feature.proportions.dropLast().reversed()) + [min(0.5, (feature.proportions.last ?? 0) * 5 + 0.01)]
          : feature.proportions
      }
      for (index, vector) in vectors.enumerated() {
        vector.withUnsafeBufferPointer {
          tracker.record($0, loop: index % 2, now: start + UInt64(index) * 50_000_000)  // 5 min of traffic
        }
      }
      let report = DriftReport(tracker: tracker, now: start + UInt64(vectors.count) * 50_000_000)
      XCTAssertEqual(report.samples, vectors.count, name)
      let expected = try numpyStatistics(
        python: python, vectors: vectors, names: tracker.reference.features.map(\.name))
      for feature in report.features {
        let (psi, ks) = try XCTUnwrap(expected[feature.name], feature.name)
        XCTAssertEqual(try XCTUnwrap(feature.psi), psi, accuracy: 1e-6, "\(name) \(feature.name) PSI")
        if let ks {
          XCTAssertEqual(try XCTUnwrap(feature.ks), ks, accuracy: 1e-6, "\(name) \(feature.name) KS")
        }
      }
      if shift {
        XCTAssertGreaterThan(report.driftShare, 0.3, "a reversed distribution drifts past the alert level")
        XCTAssertGreaterThan(report.features.compactMap(\.psi).max() ?? 0, 0.25)
      } else {
        XCTAssertEqual(report.driftShare, 0, "samples drawn from the reference do not drift")
        XCTAssertLessThan(report.features.compactMap(\.psi).max() ?? 1, 0.1)
      }
    }
  }

  /// Samples leave the window once it has passed; a reused slot starts from zero.
  func testTheWindowSlides() throws {
    let tracker = try makeTracker(window: 10, loops: 1)
    let vector = [Float](repeating: 1, count: tracker.reference.features.count)
    let second: UInt64 = 1_000_000_000
    let start = 500 * second
    vector.withUnsafeBufferPointer {
      for offset in 0..<5 { tracker.record($0, loop: 0, now: start + UInt64(offset) * second) }
    }
    XCTAssertEqual(DriftReport(tracker: tracker, now: start + 5 * second).samples, 5)
    XCTAssertEqual(DriftReport(tracker: tracker, now: start + 12 * second).samples, 2, "the first 3 s have left")
    XCTAssertEqual(DriftReport(tracker: tracker, now: start + 30 * second).samples, 0)
    vector.withUnsafeBufferPointer { tracker.record($0, loop: 0, now: start + 30 * second) }
    XCTAssertEqual(DriftReport(tracker: tracker, now: start + 30 * second).samples, 1, "the reused slot was cleared")
  }

  /// A broken reference file is refused naming the file and the problem.
  func testBadReferenceFilesAreRefusedWithAReason() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("reference-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: file) }
    let cases: [(String, String)] = [
      ("[1, 2]", "not a drift reference"),
      (#"{"features": {}}"#, "no edges, proportions and missing_proportion for model input 'x'"),
      (
        #"{"features": {"x": {"edges": [2, 1], "proportions": [0.3, 0.3, 0.4], "missing_proportion": 0}}}"#,
        "increasing edges"
      ),
      (#"{"features": {"x": {"edges": [1], "proportions": [1.0], "missing_proportion": 0}}}"#, "one more proportion"),
      (#"{"features": {"x": {"edges": "1", "proportions": [1.0], "missing_proportion": 0}}}"#, "no edges"),
    ]
    for (json, expected) in cases {
      try json.write(to: file, atomically: true, encoding: .utf8)
      XCTAssertThrowsError(try DriftReference(path: file.path, inputNames: ["x"]), json) { error in
        XCTAssertTrue("\(error)".contains(file.path) && "\(error)".contains(expected), "\(json): \(error)")
      }
    }
    XCTAssertThrowsError(try DriftReference(path: "/nonexistent/r.json", inputNames: ["x"])) { error in
      XCTAssertTrue("\(error)".contains("cannot read the drift reference"))
    }
  }

  func testBinsFollowTheEdges() {
    let feature = DriftReference.Feature(name: "x", edges: [1, 2, 3], proportions: [0.25, 0.25, 0.25, 0.25, 0])
    XCTAssertEqual([-5, 0.999, 1, 1.5, 2, 2.999, 3, 100, .nan].map(feature.bin), [0, 0, 1, 1, 2, 2, 3, 3, 4])
    XCTAssertEqual(DriftMath.psi(counts: [0, 0, 0, 0, 0], expected: feature.proportions), nil)
    XCTAssertEqual(DriftMath.ks(counts: [1, 1, 1, 1, 0], expected: feature.proportions) ?? -1, 0, accuracy: 1e-12)
  }

  /// PSI and KS computed by numpy from the raw samples: bins by np.searchsorted, the same
  /// epsilon floor, KS over present values.
  private func numpyStatistics(python: String, vectors: [[Float]], names: [String]) throws -> [String: (
    Double, Double?
  )] {
    let directory = FileManager.default.temporaryDirectory
    let samples = directory.appendingPathComponent("drift-samples-\(getpid()).csv")
    let text = vectors.map { row in row.map { $0.isNaN ? "" : "\(Double($0))" }.joined(separator: ",") }.joined(
      separator: "\n")
    try (names.joined(separator: ",") + "\n" + text + "\n").write(to: samples, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: samples) }
    let script = """
      import json, sys
      import numpy as np
      reference = json.load(open(sys.argv[1]))["features"]
      lines = open(sys.argv[2]).read().splitlines()
      names = lines[0].split(",")
      matrix = np.array([[float(v) if v else np.nan for v in line.split(",")] for line in lines[1:]])
      eps = \(DriftMath.epsilon)
      out = {}
      for column, name in enumerate(names):
          values = matrix[:, column]
          edges = np.array(reference[name]["edges"])
          expected = np.array(reference[name]["proportions"] + [reference[name]["missing_proportion"]])
          present = values[~np.isnan(values)]
          counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1).astype(float)
          counts = np.append(counts, np.isnan(values).sum())
          actual = np.maximum(counts / counts.sum(), eps)
          wanted = np.maximum(expected, eps)
          psi = float(np.sum((actual - wanted) * np.log(actual / wanted)))
          ks = None
          if counts[:-1].sum() > 0:
              ks = float(np.max(np.abs(np.cumsum(counts[:-1] / counts[:-1].sum()) - np.cumsum(expected[:-1] / expected[:-1].sum()))))
          out[name] = [psi, ks]
      print(json.dumps(out))
      """
    let result = try runCommand(python, ["-c", script, Self.referencePath, samples.path])
    XCTAssertEqual(result.status, 0, result.output)
    let decoded = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: [Any]] ?? [:]
    return decoded.mapValues { ((($0[0] as? NSNumber)?.doubleValue) ?? .nan, ($0[1] as? NSNumber)?.doubleValue) }
  }
}

/// A seeded generator, so the samples are the same on every run.
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
