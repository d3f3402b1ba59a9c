import Atomics

/// Counters and gauges of one loop's connections. Written only by that loop (relaxed atomics, so
/// no contention); read from any thread when metrics are scraped.
final class RedisLoopStatistics: Sendable {
  /// Upper bounds (seconds) of the round-trip histogram buckets; the last bucket is +Inf.
  static let latencyBounds: [Double] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
  ]

  let connectionsUp = ManagedAtomic<Int>(0)
  let inFlight = ManagedAtomic<Int>(0)
  let reconnects = ManagedAtomic<Int>(0)
  let outcomes: [ManagedAtomic<Int>] = RedisOutcome.allCases.map { _ in ManagedAtomic<Int>(0) }
  let latencyBuckets: [ManagedAtomic<Int>] = (0...latencyBounds.count).map { _ in ManagedAtomic<Int>(0) }
  let latencySumNanoseconds = ManagedAtomic<Int>(0)
  /// Cluster redirections followed, by kind.
  let redirects: [ManagedAtomic<Int>] = ClusterRedirect.Kind.allCases.map { _ in ManagedAtomic<Int>(0) }

  func recordRedirect(_ kind: ClusterRedirect.Kind) {
    redirects[kind.rawValue].wrappingIncrement(ordering: .relaxed)
  }

  func record(_ outcome: RedisOutcome) {
    outcomes[outcome.rawValue].wrappingIncrement(ordering: .relaxed)
  }

  func recordLatency(nanoseconds: UInt64) {
    let seconds = Double(nanoseconds) / 1e9
    var bucket = RedisLoopStatistics.latencyBounds.count
    for (index, bound) in RedisLoopStatistics.latencyBounds.enumerated() where seconds <= bound {
      bucket = index
      break
    }
    latencyBuckets[bucket].wrappingIncrement(ordering: .relaxed)
    latencySumNanoseconds.wrappingIncrement(by: Int(nanoseconds), ordering: .relaxed)
  }
}

/// How a command ended, for the `commands total by outcome` counter.
public enum RedisOutcome: Int, CaseIterable, Sendable {
  /// A reply arrived (including `nil`).
  case ok
  /// Redis answered with an error reply.
  case errorReply
  case timeout
  case connectionLost
  /// Refused at once: no live connection on the loop.
  case unavailable
  /// Refused at once: too many commands in flight.
  case rejected
  /// A cluster could not route it: its slot has no reachable node, the cluster is down, or it
  /// was redirected too often.
  case clusterUnroutable

  /// The label used in metrics.
  public var label: String {
    switch self {
    case .ok: "ok"
    case .errorReply: "error_reply"
    case .timeout: "timeout"
    case .connectionLost: "connection_lost"
    case .unavailable: "unavailable"
    case .rejected: "rejected"
    case .clusterUnroutable: "cluster_unroutable"
    }
  }
}

/// A snapshot of the whole pool's numbers, summed over loops.
public struct RedisPoolStatistics: Sendable {
  /// Connections configured in total.
  public var connectionsConfigured = 0
  /// Connections ready to take commands (connected and past AUTH/SELECT).
  public var connectionsUp = 0
  /// Live connections per loop, by loop index.
  public var connectionsUpByLoop: [Int] = []
  /// Commands sent and not yet answered.
  public var commandsInFlight = 0
  /// Commands finished, by outcome.
  public var commands: [RedisOutcome: Int] = [:]
  /// Connections re-established after a loss.
  public var reconnects = 0
  /// Round-trip latency: per-bucket counts (not cumulative), the last one +Inf.
  public var latencyBucketCounts: [Int] = []
  public var latencySumSeconds = 0.0
  /// The bucket bounds in seconds, matching `latencyBucketCounts` (without +Inf).
  public var latencyBounds: [Double] { RedisLoopStatistics.latencyBounds }
  /// Cluster redirections followed, by kind.
  public var redirects: [ClusterRedirect.Kind: Int] = [:]
  /// The cluster as the pool sees it; nil for a single Redis.
  public var cluster: ClusterStatus? = nil
}

/// What the pool knows of a cluster, for `/ready` and `/metrics`.
public struct ClusterStatus: Sendable {
  /// The last topology read, nil before the first one.
  public var topology: ClusterTopology?
  /// Topology reads by result (`ok`, `failed`).
  public var refreshes: [String: Int] = [:]
  /// The last reason a topology read failed, if the last one failed.
  public var lastRefreshError: String?
  /// Nodes each loop has no live connection to although it routes commands there, by loop.
  public var unreachableNodesByLoop: [[String]] = []
}
