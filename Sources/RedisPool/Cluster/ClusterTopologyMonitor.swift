import Foundation

/// Keeps a cluster's topology current: reads it at start, on a timer, and when the routers ask
/// (a MOVED reply, a lost connection), at most once per `clusterRefreshMinInterval`, on its own
/// thread (the reads block). A changed topology is handed to `publish`.
final class ClusterTopologyMonitor: @unchecked Sendable {
  private let configuration: RedisConfiguration
  private let publish: @Sendable (ClusterTopology) -> Void
  private let condition = NSCondition()
  // Guarded by `condition`:
  private var requested = true
  private var stopped = false
  private var started = false
  private var current: ClusterTopology? = nil
  private var refreshes: [String: Int] = ["ok": 0, "failed": 0]
  private var lastError: String? = nil

  init(configuration: RedisConfiguration, publish: @escaping @Sendable (ClusterTopology) -> Void) {
    self.configuration = configuration
    self.publish = publish
  }

  func start() {
    condition.withLock {
      guard !started else { return }
      started = true
      let thread = Thread { [self] in run() }
      thread.name = "redis-cluster-topology"
      thread.start()
    }
  }

  func stop() {
    condition.withLock {
      stopped = true
      condition.broadcast()
    }
  }

  /// Asks for a refresh soon (cheap; safe from any thread, as often as it likes).
  func requestRefresh() {
    condition.withLock {
      guard !requested else { return }
      requested = true
      condition.signal()
    }
  }

  /// The topology and refresh counts, for readiness and metrics.
  func status() -> (topology: ClusterTopology?, refreshes: [String: Int], lastError: String?) {
    condition.withLock { (current, refreshes, lastError) }
  }

  private func run() {
    var lastAttempt = Date.distantPast
    var nextScheduled = Date()
    while true {
      condition.lock()
      while !stopped && !requested && Date() < nextScheduled { condition.wait(until: nextScheduled) }
      // However often asked, not more than once per minimum interval.
      let earliest = lastAttempt.addingTimeInterval(configuration.clusterRefreshMinInterval)
      while !stopped && Date() < earliest { condition.wait(until: earliest) }
      if stopped {
        condition.unlock()
        return
      }
      requested = false
      let known = current
      condition.unlock()

      lastAttempt = Date()
      let outcome = read(known: known)
      condition.lock()
      var changed = false
      switch outcome {
      case .success(let topology):
        refreshes["ok", default: 0] += 1
        lastError = nil
        changed = topology != current
        current = topology
      case .failure(let failure):
        refreshes["failed", default: 0] += 1
        if lastError != failure.description {
          redisLogger.warning(
            "cannot read the redis cluster topology",
            metadata: ["redis": "\(configuration.redactedURL)", "problem": "\(failure.description)"])
        }
        lastError = failure.description
      }
      let degraded = current.map { !Self.isComplete($0) } ?? true
      let someNodeUnhealthy = current?.nodes.contains { !$0.isHealthy } ?? false
      condition.unlock()
      if changed, let topology = current {
        log(topology)
        publish(topology)
      }
      // A cluster with slots no healthy primary serves is watched closely until a replica has
      // taken over; one with a node failed or still syncing, often enough to use it once it is
      // back (a failed node may never come back: not as often).
      let interval =
        degraded
        ? min(configuration.clusterRefreshInterval, 0.25)
        : someNodeUnhealthy ? min(configuration.clusterRefreshInterval, 1) : configuration.clusterRefreshInterval
      nextScheduled = Date().addingTimeInterval(interval)
    }
  }

  /// Every slot served by a healthy primary.
  static func isComplete(_ topology: ClusterTopology) -> Bool {
    topology.slotsServed == ClusterSlot.count
  }

  /// Tries the known nodes (primaries first), then the seeds, until one answers.
  private func read(known: ClusterTopology?) -> Result<ClusterTopology, ClusterTopologyReader.Failure> {
    var candidates: [(host: String, port: Int)] = []
    if let known {
      let ordered =
        known.nodes.filter { $0.isHealthy && $0.isPrimary } + known.nodes.filter { $0.isHealthy && !$0.isPrimary }
      candidates += ordered.map { ($0.host, $0.port) }
    }
    for seed in configuration.clusterSeeds ?? [] {
      if case .tcp(let host, let port) = seed { candidates.append((host, port)) }
    }
    var seen = Set<String>()
    var problems: [String] = []
    for candidate in candidates where seen.insert("\(candidate.host):\(candidate.port)").inserted {
      do {
        let topology = try ClusterTopologyReader.read(
          host: candidate.host, port: candidate.port, configuration: configuration)
        if topology.nodes.isEmpty { throw ClusterTopologyReader.Failure(description: "no nodes") }
        return .success(topology)
      } catch {
        problems.append("\(candidate.host):\(candidate.port): \(error)")
      }
    }
    return .failure(ClusterTopologyReader.Failure(description: problems.joined(separator: "; ")))
  }

  private func log(_ topology: ClusterTopology) {
    let primaries = topology.nodes.filter(\.isPrimary).count
    redisLogger.notice(
      "redis cluster topology",
      metadata: [
        "primaries": "\(primaries)", "replicas": "\(topology.nodes.count - primaries)",
        "slots_covered": "\(topology.slotsCovered)",
        "unhealthy_nodes": "\(topology.nodes.filter { !$0.isHealthy }.map(\.address))",
      ])
  }
}
