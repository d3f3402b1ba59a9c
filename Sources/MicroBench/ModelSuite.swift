import FeatureServer
import Foundation

/// Inference alone: the shipped model scoring the 1 000 parity rows one at a time, as /predict
/// does, and the drift bookkeeping of one input vector. Prints "ns_per_prediction
/// ns_per_drift_record" (one thread; the walk is read-only, so loops scale apart).
func modelSuite(iterations: Int) throws {
  let root = URL(fileURLWithPath: LoadedModel.bundledPath).deletingLastPathComponent().deletingLastPathComponent()
  let model = try XGBoostModel(contentsOf: LoadedModel.bundledPath)
  let text = try String(
    contentsOf: root.appendingPathComponent("Tests/FeatureServerTests/Fixtures/fraud_xgb_parity.csv"), encoding: .utf8)
  let rows: [[Float]] = text.split(whereSeparator: \.isNewline).dropFirst().map { line in
    line.split(separator: ",", omittingEmptySubsequences: false).dropLast().map { Float($0) ?? .nan }
  }
  let flat = rows.flatMap { $0 }
  let width = model.featureNames.count
  var checksum: Float = 0
  let begin = DispatchTime.now().uptimeNanoseconds
  flat.withUnsafeBufferPointer { all in
    for iteration in 0..<iterations {
      let row = iteration % rows.count
      checksum += model.predict(UnsafeBufferPointer(rebasing: all[(row * width)..<((row + 1) * width)]))
    }
  }
  let elapsed = Double(DispatchTime.now().uptimeNanoseconds - begin) / Double(iterations)
  guard checksum.isFinite else { fatalError("bad checksum") }
  let reference = try DriftReference(
    path: DriftReference.path(besideModel: LoadedModel.bundledPath), inputNames: model.featureNames)
  let tracker = DriftTracker(reference: reference, window: 600, loops: 1)
  let recordBegin = DispatchTime.now().uptimeNanoseconds
  flat.withUnsafeBufferPointer { all in
    for iteration in 0..<iterations {
      let row = iteration % rows.count
      tracker.record(
        UnsafeBufferPointer(rebasing: all[(row * width)..<((row + 1) * width)]), loop: 0,
        now: UInt64(iteration) * 1000)
    }
  }
  let recordElapsed = Double(DispatchTime.now().uptimeNanoseconds - recordBegin) / Double(iterations)
  print(String(format: "%.1f %.1f", elapsed, recordElapsed))
}
