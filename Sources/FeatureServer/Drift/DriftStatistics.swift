import Foundation

/// How far each model input's recent values have moved from the training distribution.
public struct DriftReport: Sendable {
  public struct Feature: Sendable {
    public let name: String
    /// Population stability index over every bin including missing; nil without samples.
    public let psi: Double?
    /// Two-sample Kolmogorov–Smirnov statistic between the binned present values and the
    /// reference's; nil without present samples.
    public let ks: Double?
    /// Samples per bin, then missing.
    public let counts: [Int]
    public let reference: DriftReference.Feature
  }

  public let features: [Feature]
  public let window: Double
  /// Model input vectors counted in the window.
  public let samples: Int

  /// PSI above this is the usual drift alarm.
  public static let psiAlarm = 0.25

  /// Share of features whose PSI is above `psiAlarm` (0 without samples).
  public var driftShare: Double {
    let scored = features.compactMap(\.psi)
    guard !scored.isEmpty else { return 0 }
    return Double(scored.filter { $0 > DriftReport.psiAlarm }.count) / Double(features.count)
  }

  /// The report for `tracker`'s window ending at `now`.
  public init(tracker: DriftTracker, now: UInt64) {
    let counts = tracker.counts(now: now)
    window = tracker.window
    samples = counts.first?.reduce(0, +) ?? 0
    features = zip(tracker.reference.features, counts).map { reference, counts in
      Feature(
        name: reference.name, psi: DriftMath.psi(counts: counts, expected: reference.proportions),
        ks: DriftMath.ks(counts: counts, expected: reference.proportions), counts: counts, reference: reference)
    }
  }
}

/// The two statistics, on bin counts against reference proportions.
public enum DriftMath {
  /// Floor for a proportion inside the logarithm, so an empty bin does not make PSI infinite.
  public static let epsilon = 1e-4

  /// Σ (a − e) · ln(a / e) over bins, with a and e floored at `epsilon`.
  public static func psi(counts: [Int], expected: [Double]) -> Double? {
    let total = counts.reduce(0, +)
    guard total > 0, counts.count == expected.count else { return nil }
    var sum = 0.0
    for (count, reference) in zip(counts, expected) {
      let actual = max(Double(count) / Double(total), epsilon)
      let wanted = max(reference, epsilon)
      sum += (actual - wanted) * log(actual / wanted)
    }
    return sum
  }

  /// The largest gap between the cumulative distributions of the present values (every bin but
  /// the last, missing), each normalised over its own present share.
  public static func ks(counts: [Int], expected: [Double]) -> Double? {
    guard counts.count == expected.count, counts.count >= 2 else { return nil }
    let present = counts.dropLast()
    let referencePresent = expected.dropLast()
    let total = present.reduce(0, +)
    let referenceTotal = referencePresent.reduce(0, +)
    guard total > 0, referenceTotal > 0 else { return nil }
    var actual = 0.0
    var wanted = 0.0
    var largest = 0.0
    for (count, reference) in zip(present, referencePresent) {
      actual += Double(count) / Double(total)
      wanted += reference / referenceTotal
      largest = max(largest, abs(actual - wanted))
    }
    return largest
  }
}
