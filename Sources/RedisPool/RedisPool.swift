import Reactor
import Synchronization

/// A fixed pool of hiredis connections (50 by default) spread evenly over the loops of an
/// `EventLoopGroup`. Each loop owns its connections; `on(_:)` gives a loop's share, to be used on
/// that loop's thread.
///
/// For a Redis Cluster (`redis+cluster://`), each loop spreads its share over the nodes it
/// routes to (at least one connection per node), a monitor thread keeps the topology current,
/// and a changed topology moves connections between nodes without failing commands in flight.
public final class RedisPool: @unchecked Sendable {
  public let configuration: RedisConfiguration
  public let group: EventLoopGroup
  private let loopPools: [RedisLoopPool]
  private let statistics: [RedisLoopStatistics]
  private let started = Mutex<Bool>(false)
  private let monitor: ClusterTopologyMonitor?

  /// Creates the pool; nothing connects until `start()`.
  public init(configuration: RedisConfiguration, group: EventLoopGroup) throws {
    try configuration.validate()
    guard configuration.poolSize >= group.loops.count else {
      throw ConfigurationError(
        "pool size \(configuration.poolSize) is smaller than the \(group.loops.count) loops: every loop needs a connection"
      )
    }
    self.configuration = configuration
    self.group = group
    var pools: [RedisLoopPool] = []
    var allStatistics: [RedisLoopStatistics] = []
    let nextIndex = Mutex<Int>(0)
    for loop in group.loops {
      let count = RedisPool.share(of: configuration.poolSize, loop: loop.index, loops: group.loops.count)
      let loopStatistics = RedisLoopStatistics()
      let makeConnection = { (health: RedisLoopHealth) -> RedisConnection in
        let index = nextIndex.withLock { value -> Int in
          defer { value += 1 }
          return value
        }
        return RedisConnection(
          loop: loop, configuration: configuration, statistics: loopStatistics, health: health, index: index)
      }
      let health = RedisLoopHealth()
      let connections = (0..<count).map { _ in makeConnection(health) }
      let single = configuration.isCluster ? nil : NodeConnections(connections: connections, health: health)
      let pool = RedisLoopPool(
        loop: loop, connections: connections, statistics: loopStatistics, configuration: configuration,
        maxInFlight: max(1, (configuration.maxInFlight + group.loops.count - 1) / group.loops.count),
        single: single, makeConnection: makeConnection)
      if configuration.isCluster {
        for connection in connections { connection.router = pool }
      }
      pools.append(pool)
      allStatistics.append(loopStatistics)
    }
    loopPools = pools
    statistics = allStatistics
    if configuration.isCluster {
      let boxes = pools.map(UnsafeSendableBox.init)
      let monitor = ClusterTopologyMonitor(configuration: configuration) { topology in
        for box in boxes {
          box.value.loop.execute { box.value.apply(topology) }
        }
      }
      for pool in pools { pool.requestRefresh = { [weak monitor] in monitor?.requestRefresh() } }
      self.monitor = monitor
    } else {
      monitor = nil
    }
  }

  deinit {
    monitor?.stop()  // a pool dropped without close() must not leave its thread polling
  }

  /// Connections a loop gets: an even split, the remainder going to the first loops.
  static func share(of total: Int, loop: Int, loops: Int) -> Int {
    total / loops + (loop < total % loops ? 1 : 0)
  }

  /// Starts connecting every connection on its loop. Returns at once; use `statistics()` or
  /// `waitUntilConnected` to see them come up.
  public func start() {
    let first = started.withLock { wasStarted -> Bool in
      defer { wasStarted = true }
      return !wasStarted
    }
    guard first else { return }
    if let monitor {
      // Cluster connections connect once the topology says where.
      monitor.start()
      return
    }
    for pool in loopPools {
      let box = UnsafeSendableBox(pool)
      pool.loop.execute {
        for connection in box.value.connections { connection.connect() }
      }
    }
  }

  /// The loop's share of the pool. Use it only on that loop's thread.
  public func on(_ loop: EventLoop) -> RedisLoopPool {
    loopPools[loop.index]
  }

  /// Closes every connection; commands in flight fail with `.closed`. `completion` runs once all
  /// loops have closed theirs (on some loop thread).
  public func close(completion: @escaping @Sendable () -> Void = {}) {
    monitor?.stop()
    let remaining = Mutex<Int>(loopPools.count)
    for pool in loopPools {
      let box = UnsafeSendableBox(pool)
      pool.loop.execute {
        for connection in box.value.connections { connection.close() }
        let last = remaining.withLock { count -> Bool in
          count -= 1
          return count == 0
        }
        if last { completion() }
      }
    }
  }

  /// Numbers for metrics and readiness, summed over loops. Safe from any thread.
  public func statisticsSnapshot() -> RedisPoolStatistics {
    var snapshot = RedisPoolStatistics()
    snapshot.connectionsConfigured = configuration.poolSize
    snapshot.latencyBucketCounts = Array(repeating: 0, count: RedisLoopStatistics.latencyBounds.count + 1)
    for outcome in RedisOutcome.allCases { snapshot.commands[outcome] = 0 }
    var sumNanoseconds = 0
    for loopStatistics in statistics {
      let up = loopStatistics.connectionsUp.load(ordering: .relaxed)
      snapshot.connectionsUp += up
      snapshot.connectionsUpByLoop.append(up)
      snapshot.commandsInFlight += loopStatistics.inFlight.load(ordering: .relaxed)
      snapshot.reconnects += loopStatistics.reconnects.load(ordering: .relaxed)
      for outcome in RedisOutcome.allCases {
        snapshot.commands[outcome, default: 0] += loopStatistics.outcomes[outcome.rawValue].load(ordering: .relaxed)
      }
      for (index, bucket) in loopStatistics.latencyBuckets.enumerated() {
        snapshot.latencyBucketCounts[index] += bucket.load(ordering: .relaxed)
      }
      sumNanoseconds += loopStatistics.latencySumNanoseconds.load(ordering: .relaxed)
    }
    snapshot.latencySumSeconds = Double(sumNanoseconds) / 1e9
    for kind in ClusterRedirect.Kind.allCases {
      snapshot.redirects[kind] = statistics.reduce(0) { $0 + $1.redirects[kind.rawValue].load(ordering: .relaxed) }
    }
    if let monitor {
      let status = monitor.status()
      snapshot.cluster = ClusterStatus(
        topology: status.topology, refreshes: status.refreshes, lastRefreshError: status.lastError,
        unreachableNodesByLoop: loopPools.map { $0.unreachableServers() })
    }
    return snapshot
  }
}

/// Carries a loop-confined object into a closure that runs on that loop.
struct UnsafeSendableBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
