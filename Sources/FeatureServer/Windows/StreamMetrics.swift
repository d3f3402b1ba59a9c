import Atomics

/// What streaming ingest did, for /metrics (written by the consumer's loop, read by any).
final class StreamMetrics: Sendable {
  /// Consumer latency bucket bounds (seconds), from the entry's XADD time to its events being
  /// servable: 1 ms to 10 s.
  static let latencyBounds: [Double] = [
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 10,
  ]

  let eventsIn = ManagedAtomic<Int>(0)
  let badEvents: [ManagedAtomic<Int>] = WindowEventProblem.allCases.map { _ in ManagedAtomic(0) }
  /// Events late for every window of an entity (not stored).
  let lateEvents = ManagedAtomic<Int>(0)
  /// Events already stored (a re-delivery), not counted again.
  let duplicateEvents = ManagedAtomic<Int>(0)
  /// Events pushed out of an entity's hash by `--window-max-events-per-entity`.
  let evictedEvents = ManagedAtomic<Int>(0)
  /// Batches whose writes failed (retried from the pending entries).
  let writeFailures = ManagedAtomic<Int>(0)
  /// Entries taken over from consumers that stopped (XAUTOCLAIM).
  let claimedEntries = ManagedAtomic<Int>(0)
  /// The largest event time seen, µs (0: none yet).
  let maxEventTime = ManagedAtomic<Int>(0)
  /// From XINFO GROUPS, refreshed every second: entries not yet delivered and delivered but
  /// not acknowledged; -1 until known.
  let groupLag = ManagedAtomic<Int>(-1)
  let groupPending = ManagedAtomic<Int>(-1)
  let latencyBuckets: [ManagedAtomic<Int>] = (0...StreamMetrics.latencyBounds.count).map { _ in ManagedAtomic(0) }
  let latencySumMicroseconds = ManagedAtomic<Int>(0)

  init() {}

  func recordLatency(microseconds: Int64) {
    let seconds = Double(max(0, microseconds)) / 1e6
    latencyBuckets[LoopMetrics.bucket(seconds, bounds: Self.latencyBounds)].wrappingIncrement(ordering: .relaxed)
    latencySumMicroseconds.wrappingIncrement(by: Int(max(0, microseconds)), ordering: .relaxed)
  }
}
