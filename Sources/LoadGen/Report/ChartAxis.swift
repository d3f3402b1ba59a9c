import Foundation

/// An axis with round ticks: steps of 1, 2 or 5 times a power of ten, from 0 (or the lowest
/// value) to the first tick at or above the highest value.
struct ChartAxis {
  let low: Double
  let high: Double
  let ticks: [Double]

  /// At most about `count` ticks covering `0...maximum` (or `minimum...maximum`), at least
  /// `smallestStep` apart (whole seconds on a time axis).
  init(minimum: Double = 0, maximum: Double, count: Int = 5, smallestStep: Double = 0) {
    let span = max(maximum - minimum, 1e-9)
    let rough = max(span / Double(max(1, count)), smallestStep)
    let magnitude = pow(10, floor(log10(rough)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough } ?? 10 * magnitude
    let first = floor(minimum / step) * step
    var ticks: [Double] = []
    var tick = first
    while tick < maximum - step * 1e-9 || ticks.isEmpty {
      ticks.append(tick)
      tick = first + step * Double(ticks.count)
    }
    ticks.append(tick)
    self.low = first
    self.high = tick
    self.ticks = ticks
  }

  /// Where `value` falls, 0 at `low` and 1 at `high`.
  func fraction(_ value: Double) -> Double { (value - low) / (high - low) }

  /// A tick's label: no more decimals than the step needs.
  func label(_ value: Double) -> String {
    let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
    let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
    return String(format: "%.\(decimals)f", value)
  }
}

/// The percentile axis of a latency spectrum, as HdrHistogram's plots draw it: a log scale of
/// 1 / (1 - percentile), so 90 %, 99 %, 99.9 % ... are evenly spaced.
enum PercentileScale {
  /// The labelled percentiles: 0, 90, 99, 99.9, ... up to `nines` nines.
  static func ticks(nines: Int) -> [Double] {
    [0] + (1...max(1, nines)).map { 100 - 100 / pow(10, Double($0)) }
  }

  /// 0 at the 0th percentile, `nines` at 1 - 10^-nines.
  static func position(_ percentile: Double) -> Double {
    log10(1 / max(1e-12, 1 - min(percentile, 99.999_999_9) / 100))
  }

  static func label(_ percentile: Double) -> String {
    percentile == 0 ? "0%" : String(format: "%g%%", (percentile * 100_000).rounded() / 100_000)
  }
}
