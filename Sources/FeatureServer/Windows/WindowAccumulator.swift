/// The aggregates of one window, updated one value at a time.
///
/// The variance is kept as Welford's running sum of squared deviations (`m2`), the way Spark's
/// `stddev_samp` keeps it: a sum of squares minus the squared sum cancels and is already ~5e-10
/// off Spark's on small data. The mean is `sum / count`, as Spark's `avg` computes it.
public struct WindowAccumulator: Sendable, Equatable {
  public private(set) var count: Int64 = 0
  public private(set) var sum: Double = 0
  public private(set) var min: Double = .infinity
  public private(set) var max: Double = -.infinity
  private var runningMean: Double = 0
  private var m2: Double = 0

  public init() {}

  public mutating func add(_ value: Double) {
    count += 1
    sum += value
    if value < min { min = value }
    if value > max { max = value }
    let delta = value - runningMean
    let deltaOverCount = delta / Double(count)
    runningMean += deltaOverCount
    m2 += delta * (delta - deltaOverCount)
  }

  /// Nil for an empty window.
  public var mean: Double? { count > 0 ? sum / Double(count) : nil }

  /// The sample standard deviation (Spark's `stddev`); nil when fewer than two values.
  public var sampleStandardDeviation: Double? {
    count > 1 ? (m2 / Double(count - 1)).squareRoot() : nil
  }

  public var minimum: Double? { count > 0 ? min : nil }
  public var maximum: Double? { count > 0 ? max : nil }

  /// The value of `aggregation` over this window, as served (nil serves JSON null).
  public func value(of aggregation: WindowAggregation) -> FeatureValue? {
    switch aggregation {
    case .count: .int64(count)
    case .sum: .double(sum)
    case .mean: mean.map { .double($0) }
    case .std: sampleStandardDeviation.map { .double($0) }
    case .min: minimum.map { .double($0) }
    case .max: maximum.map { .double($0) }
    }
  }
}

/// The aggregations a window feature can serve.
public enum WindowAggregation: String, Sendable, CaseIterable {
  case count, sum, mean, std, min, max

  /// How the value is served: a count is an integer, the rest are doubles.
  var featureType: FeatureType { self == .count ? .int64 : .double }
}
