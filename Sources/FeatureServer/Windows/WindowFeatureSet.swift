/// An entity's streaming window features, declared in the registry under `windows:`, computed
/// from the entity's recent events at read time.
///
/// With sizes `1m, 5m` and aggregations `count, sum`, an entity serves `txn_count_1m`,
/// `amount_sum_1m`, `txn_count_5m`, `amount_sum_5m`: the value of the open window that closes
/// next (Spark's update mode). `trailing` adds `amount_mean_60s`-style features over the events
/// of the trailing period at read time.
public struct WindowFeatureSet: Sendable {
  /// One served feature: which window (or the trailing period) and which aggregation.
  public enum Source: Sendable, Equatable {
    case window(Int, WindowAggregation)
    case trailing(WindowAggregation)
  }

  /// The event members read: the entity id (`key`) and the aggregated value.
  public let schema: WindowEventSchema
  public let slide: Int64
  /// The watermark delay, µs.
  public let delay: Int64
  /// Window sizes with their labels as written (`1m`), smallest first.
  public let windows: [(label: String, window: SlidingWindow)]
  /// The trailing period (µs) and its label, if declared.
  public let trailing: (label: String, length: Int64)?
  /// Served features, in the order they follow the entity's stored features.
  public let features: [(name: String, source: Source)]

  init(
    schema: WindowEventSchema, slide: Int64, delay: Int64, windows: [(label: String, window: SlidingWindow)],
    aggregations: [WindowAggregation], countName: String, trailing: (label: String, length: Int64)?,
    trailingAggregations: [WindowAggregation]
  ) {
    self.schema = schema
    self.slide = slide
    self.delay = delay
    self.windows = windows
    self.trailing = trailing
    var features: [(String, Source)] = []
    for (index, window) in windows.enumerated() {
      for aggregation in aggregations {
        let stem = aggregation == .count ? countName : "\(schema.valueField)_\(aggregation.rawValue)"
        features.append(("\(stem)_\(window.label)", .window(index, aggregation)))
      }
    }
    if let trailing {
      for aggregation in trailingAggregations {
        let stem = aggregation == .count ? countName : "\(schema.valueField)_\(aggregation.rawValue)"
        features.append(("\(stem)_\(trailing.label)", .trailing(aggregation)))
      }
    }
    self.features = features
  }

  /// The longest window, µs.
  var largestWindow: Int64 { windows.map(\.window.size).max() ?? 0 }

  /// How long an event can still matter after the watermark passes its time: once the watermark
  /// is `horizon` past an event, every window it belongs to is closed and the trailing period
  /// (read at wall-clock time, which the watermark trails) is long past it.
  var horizon: Int64 { max(largestWindow, trailing?.length ?? 0) + slide }

  /// Whether an event at `time`, arriving with `watermark` in force, still counts in some window
  /// (or the trailing period): false means it is late for everything.
  func counts(time: Int64, watermark: Int64?) -> Bool {
    guard let watermark else { return true }
    if trailing != nil && time > watermark { return true }
    return windows.contains { $0.window.lastStart(containing: time) + $0.window.size > watermark }
  }

  /// The served value of every feature at `now` (µs) from the entity's stored events.
  ///
  /// An event counts in the window served at `now` when the window contains its time and did
  /// not end at or before the watermark the event arrived under (its `cutoff`): what Spark's
  /// state for that window holds. The trailing period takes the events with
  /// `now - length < time <= now`; there an empty mean and a std of fewer than two events are 0,
  /// as the fraud pipeline's 60-second features were.
  func values(of events: StoredWindowEvents, now: Int64) -> [FeatureValue?] {
    var accumulators = [WindowAccumulator](repeating: WindowAccumulator(), count: windows.count)
    let served = windows.map { $0.window.servedWindow(at: now) }
    var trailingAccumulator = WindowAccumulator()
    let trailingStart = trailing.map { now - $0.length }
    events.forEach { time, value, cutoff in
      for (position, window) in served.enumerated()
      where window.start <= time && time < window.end && window.end > cutoff {
        accumulators[position].add(value)
      }
      if let trailingStart, time > trailingStart && time <= now { trailingAccumulator.add(value) }
    }
    return features.map { feature in
      switch feature.source {
      case .window(let index, let aggregation):
        return accumulators[index].value(of: aggregation)
      case .trailing(let aggregation):
        switch aggregation {
        case .mean: return .double(trailingAccumulator.mean ?? 0)
        case .std: return .double(trailingAccumulator.sampleStandardDeviation ?? 0)
        default: return trailingAccumulator.value(of: aggregation)
        }
      }
    }
  }
}
