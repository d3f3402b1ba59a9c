import Atomics

/// The routes the server counts, in metric label order.
@_spi(Benchmarks) public enum Route: Int, CaseIterable, Sendable {
  case features, featuresBatch, health, ready, metrics, predict, reloadModel, drift
  case feastOnlineFeatures, feastWrite, feastPush
  case events
  case other

  var label: String {
    switch self {
    case .features: "/features/:entity/:id"
    case .featuresBatch: "/features"
    case .health: "/health"
    case .ready: "/ready"
    case .metrics: "/metrics"
    case .predict: "/predict"
    case .reloadModel: "/admin/reload-model"
    case .drift: "/drift"
    case .feastOnlineFeatures: "/get-online-features"
    case .feastWrite: "/write-to-online-store"
    case .feastPush: "/push"
    case .events: "/events"
    case .other: "other"
    }
  }

  var method: String {
    switch self {
    case .featuresBatch, .predict, .reloadModel, .feastOnlineFeatures, .feastWrite, .feastPush, .events: "POST"
    default: "GET"
    }
  }
}

/// Cache results, in metric label order.
enum CacheResult: Int, CaseIterable, Sendable {
  case hit, miss, stale, negative

  var label: String {
    switch self {
    case .hit: "hit"
    case .miss: "miss"
    case .stale: "stale"
    case .negative: "negative"
    }
  }
}

/// What a Feast entity row read gave, in metric label order.
enum FeastRowResult: Int, CaseIterable, Sendable {
  /// The key had the view's fields.
  case found
  /// No field of the view at the key (served as nulls).
  case absent
  /// The key holds something that is not a Feast hash (served as INVALID).
  case invalid

  var label: String {
    switch self {
    case .found: "found"
    case .absent: "absent"
    case .invalid: "invalid"
    }
  }
}

/// Prediction outcomes, in metric label order. Exclusive: a degraded prediction counts only as
/// degraded, whatever its verdict.
enum PredictionOutcome: Int, CaseIterable, Sendable {
  case fraud, notFraud, degraded

  var label: String {
    switch self {
    case .fraud: "fraud"
    case .notFraud: "not_fraud"
    case .degraded: "degraded"
    }
  }
}

/// One loop's counters. Only that loop writes them (relaxed atomics: no contention, no locks);
/// `/metrics` sums every loop's at scrape time.
@_spi(Benchmarks) public final class LoopMetrics: Sendable {
  /// Request duration bucket bounds (seconds): 100 µs to 1 s, dense between 1 and 10 ms.
  static let durationBounds: [Double] = [
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1,
  ]
  /// Feature age bucket bounds (seconds): 1 s to 30 days.
  static let ageBounds: [Double] = [1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400]
  /// Status codes counted by their own label; the rest count as their class ("2xx"...).
  static let statuses: [Int] = [200, 400, 404, 405, 413, 422, 500, 503]

  let requests: CounterBlock
  let durationBuckets: CounterBlock
  let durationSumNanoseconds: CounterBlock
  let cacheResults = CounterBlock(count: CacheResult.allCases.count)
  let cacheRefreshes = ManagedAtomic<Int>(0)
  let decodeErrors = ManagedAtomic<Int>(0)
  /// Reads of an entity's window events that failed while its row was served (windows null).
  let windowReadFailures = ManagedAtomic<Int>(0)
  /// Per entity, then per Feast feature view: reads that found something other than a row of
  /// their layout at the key.
  let storedRowErrors: CounterBlock
  /// Feast entity rows served, by `FeastRowResult`.
  let feastRows = CounterBlock(count: FeastRowResult.allCases.count)
  let ageBuckets: CounterBlock
  let ageSumSeconds: CounterBlock
  let entityCount: Int
  /// Model inference bucket bounds (seconds): 1 µs to 10 ms.
  static let inferenceBounds: [Double] = [
    0.000001, 0.0000025, 0.000005, 0.0000075, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.01,
  ]
  let predictions = CounterBlock(count: PredictionOutcome.allCases.count)
  let inferenceBuckets = CounterBlock(count: LoopMetrics.inferenceBounds.count + 1)
  let inferenceSumNanoseconds = ManagedAtomic<Int>(0)

  @_spi(Benchmarks) public init(entityCount: Int, feastViewCount: Int = 0) {
    self.entityCount = entityCount
    let statusSlots = LoopMetrics.statuses.count + 5  // + 1xx..5xx classes
    requests = CounterBlock(count: Route.allCases.count * statusSlots)
    durationBuckets = CounterBlock(count: Route.allCases.count * (LoopMetrics.durationBounds.count + 1))
    durationSumNanoseconds = CounterBlock(count: Route.allCases.count)
    ageBuckets = CounterBlock(count: entityCount * (LoopMetrics.ageBounds.count + 1))
    ageSumSeconds = CounterBlock(count: entityCount)
    storedRowErrors = CounterBlock(count: entityCount + feastViewCount)
  }

  static func statusSlot(_ code: Int) -> Int {
    if let index = statuses.firstIndex(of: code) { return index }
    return statuses.count + min(max(code / 100, 1), 5) - 1
  }

  /// The histogram bucket of `value`: the first bound at or above it, else the +Inf bucket.
  @inline(__always)
  static func bucket(_ value: Double, bounds: [Double]) -> Int {
    for (index, bound) in bounds.enumerated() where value <= bound { return index }
    return bounds.count
  }

  static func statusLabel(slot: Int) -> String {
    slot < statuses.count ? String(statuses[slot]) : "\(slot - statuses.count + 1)xx"
  }

  @_spi(Benchmarks) public func recordRequest(_ route: Route, status: Int, nanoseconds: UInt64) {
    let statusSlots = LoopMetrics.statuses.count + 5
    requests[route.rawValue * statusSlots + LoopMetrics.statusSlot(status)].wrappingIncrement(ordering: .relaxed)
    let bucket = LoopMetrics.bucket(Double(nanoseconds) / 1e9, bounds: LoopMetrics.durationBounds)
    durationBuckets[route.rawValue * (LoopMetrics.durationBounds.count + 1) + bucket]
      .wrappingIncrement(ordering: .relaxed)
    durationSumNanoseconds[route.rawValue].wrappingIncrement(by: Int(nanoseconds), ordering: .relaxed)
  }

  func recordPrediction(_ outcome: PredictionOutcome, inferenceNanoseconds: UInt64) {
    predictions[outcome.rawValue].wrappingIncrement(ordering: .relaxed)
    let bucket = LoopMetrics.bucket(Double(inferenceNanoseconds) / 1e9, bounds: LoopMetrics.inferenceBounds)
    inferenceBuckets[bucket].wrappingIncrement(ordering: .relaxed)
    inferenceSumNanoseconds.wrappingIncrement(by: Int(inferenceNanoseconds), ordering: .relaxed)
  }

  func recordCache(_ result: CacheResult) {
    cacheResults[result.rawValue].wrappingIncrement(ordering: .relaxed)
  }

  func recordStoredRowError(entity: Int?) {
    guard let entity, entity < storedRowErrors.count else { return }
    storedRowErrors[entity].wrappingIncrement(ordering: .relaxed)
  }

  func recordAge(entity: Int, seconds: Int64) {
    let bucket = LoopMetrics.bucket(Double(max(0, seconds)), bounds: LoopMetrics.ageBounds)
    ageBuckets[entity * (LoopMetrics.ageBounds.count + 1) + bucket].wrappingIncrement(ordering: .relaxed)
    ageSumSeconds[entity].wrappingIncrement(by: Int(max(0, seconds)), ordering: .relaxed)
  }
}
