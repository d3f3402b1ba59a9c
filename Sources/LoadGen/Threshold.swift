import Foundation

/// An SLO assertion: `[name:]metric op value[unit]`, e.g. `p99<10ms`, `p99.9<=25ms`,
/// `avg<2ms`, `max<100ms`, `error_rate<1%`, `rps>5000`, `GET /features/:entity/:id:p99<5ms`.
public struct Threshold: Sendable, Equatable {
  public enum Metric: Sendable, Equatable {
    case percentile(Double)
    case average, maximum, errorRate, requestsPerSecond
  }

  public enum Comparison: String, Sendable {
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
  }

  public let text: String
  /// The request name ("GET /x" or "/x"); nil for the whole run.
  public let name: String?
  public let metric: Metric
  public let comparison: Comparison
  /// Milliseconds for times, a fraction for error_rate, requests per second for rps.
  public let limit: Double

  public init(parsing text: String) throws {
    self.text = text
    let pattern =
      #"^(?:(.+):)?(p[0-9]+(?:\.[0-9]+)?|avg|max|error_rate|rps)\s*(<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|us|µs|%)?$"#
    let expression = try NSRegularExpression(pattern: pattern)
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let match = expression.firstMatch(in: trimmed, range: NSRange(trimmed.startIndex..., in: trimmed)) else {
      throw ScenarioError(
        "threshold '\(text)': expected [name:]metric<value, metric one of pN (p50, p99.9), avg, max, error_rate, rps; e.g. 'p99<10ms'"
      )
    }
    func group(_ index: Int) -> String? {
      Range(match.range(at: index), in: trimmed).map { String(trimmed[$0]) }
    }
    name = group(1)?.trimmingCharacters(in: .whitespaces)
    let metricText = group(2) ?? ""
    comparison = Comparison(rawValue: group(3) ?? "<") ?? .less
    let number = Double(group(4) ?? "") ?? 0
    let unit = group(5)
    switch metricText {
    case "avg": metric = .average
    case "max": metric = .maximum
    case "error_rate": metric = .errorRate
    case "rps": metric = .requestsPerSecond
    default:
      guard let percentile = Double(metricText.dropFirst()), percentile > 0, percentile <= 100 else {
        throw ScenarioError("threshold '\(text)': percentile must be in (0, 100]")
      }
      metric = .percentile(percentile)
    }
    switch (metric, unit) {
    case (.errorRate, "%"): limit = number / 100
    case (.errorRate, nil): limit = number
    case (.requestsPerSecond, nil): limit = number
    case (.errorRate, _), (.requestsPerSecond, _):
      throw ScenarioError("threshold '\(text)': \(metricText) takes no time unit")
    case (_, "s"): limit = number * 1000
    case (_, "us"), (_, "µs"): limit = number / 1000
    case (_, "ms"), (_, nil): limit = number
    case (_, "%"): throw ScenarioError("threshold '\(text)': a time needs ms, s or us, not %")
    default: limit = number
    }
  }

  /// The measured value (same unit as `limit`), or nil when the name matches nothing.
  public func value(in result: LoadResult) -> Double? {
    let entry: RequestStatistics
    if let name {
      guard let found = result.statistics.entry(matching: name) else { return nil }
      entry = found
    } else {
      entry = result.statistics.total
    }
    switch metric {
    case .percentile(let percentile): return entry.milliseconds(atPercentile: percentile)
    case .average: return entry.averageMilliseconds
    case .maximum: return entry.maxMilliseconds
    case .errorRate: return entry.failureRatio
    case .requestsPerSecond: return Double(entry.requests) / max(result.duration, 1e-9)
    }
  }

  public func evaluate(_ result: LoadResult) -> ThresholdOutcome {
    guard let value = value(in: result) else { return ThresholdOutcome(threshold: self, value: nil, passed: false) }
    let passed: Bool
    switch comparison {
    case .less: passed = value < limit
    case .lessOrEqual: passed = value <= limit
    case .greater: passed = value > limit
    case .greaterOrEqual: passed = value >= limit
    }
    return ThresholdOutcome(threshold: self, value: value, passed: passed)
  }
}

/// A threshold with what was measured.
public struct ThresholdOutcome: Sendable {
  public let threshold: Threshold
  public let value: Double?
  public let passed: Bool

  /// "PASS p99<10ms: 1.234 ms" / "FAIL ..." / "FAIL GET /x:p99<5ms: no requests named 'GET /x'".
  public var verdict: String {
    let mark = passed ? "PASS" : "FAIL"
    guard let value else { return "\(mark) \(threshold.text): no requests named '\(threshold.name ?? "")'" }
    let shown: String
    switch threshold.metric {
    case .errorRate: shown = String(format: "%.4f%%", value * 100)
    case .requestsPerSecond: shown = String(format: "%.1f req/s", value)
    default: shown = String(format: "%.3f ms", value)
    }
    return "\(mark) \(threshold.text): \(shown)"
  }
}
