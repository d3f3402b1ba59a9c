import Dispatch
import Foundation
import HTTPCore
import Reactor

/// How a load run is shaped. Times are seconds.
public struct LoadOptions: Sendable {
  /// Numeric IPv4/IPv6 address and port of the target, and the Host header to send.
  public var address: String
  public var port: Int
  public var hostHeader: String
  public var users = 1
  /// Users started per second (closed loop).
  public var spawnRate = 1.0
  public var runTime = 30.0
  /// How long requests in flight may finish after the run time; then they are cancelled.
  public var stopTimeout = 0.0
  /// Open loop: requests per second at a constant arrival rate, over `users` connections.
  public var rate: Double? = nil
  public var threads = 1
  public var requestTimeout = 10.0
  /// Open loop: a request started later than this after its scheduled time counts as the
  /// generator falling behind.
  public var lateThreshold = 0.001
  /// HTTP/2 (h2c, prior knowledge): users share connections, `streamsPerConnection` each, and
  /// every request is a stream.
  public var http2 = false
  public var streamsPerConnection = 10

  public init(address: String, port: Int, hostHeader: String) {
    self.address = address
    self.port = port
    self.hostHeader = hostHeader
  }
}

/// One second of the run, for the live line, `_stats_history.csv` and the HTML chart.
public struct HistoryPoint: Sendable {
  /// Epoch seconds.
  public var timestamp: Double
  public var users: Int
  public var requestsPerSecond: Double
  public var failuresPerSecond: Double
  /// Percentiles of this second's responses (ms).
  public var intervalP50: Double
  public var intervalP99: Double
  /// Everything so far (Locust's history rows report cumulative percentiles).
  public var cumulative: RequestStatistics
}

/// What a run measured.
public struct LoadResult: Sendable {
  public var statistics: LoadStatistics
  public var history: [HistoryPoint]
  /// Epoch seconds.
  public var started: Double
  public var duration: Double
  public var users: Int
  public var options: LoadOptions
  public var scenarioName: String
  /// Every request failed to connect: the target cannot be reached.
  public var connectFailuresOnly: Bool
}

/// Runs a scenario against a target with one epoll loop per thread (HTTPCore's client), each
/// user holding one keep-alive connection. Closed loop (Locust's model) by default; open loop
/// (constant arrival rate, latency from the scheduled time) with `rate`.
public final class LoadRunner: @unchecked Sendable {
  let scenario: Scenario
  let options: LoadOptions
  let group: EventLoopGroup
  let states: [LoopState]

  public init(scenario: Scenario, options: LoadOptions) throws {
    self.scenario = scenario
    self.options = options
    group = try EventLoopGroup(threads: max(1, options.threads))
    states = group.loops.map { LoopState(loop: $0, scenario: scenario, options: options) }
  }

  /// Runs to the end; `progress` gets a point every second (on the calling thread).
  public func run(progress: (HistoryPoint) -> Void = { _ in }) throws -> LoadResult {
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    let startedAt = Date().timeIntervalSince1970
    let start = monotonicNanoseconds()
    let runNanoseconds = nanoseconds(fromSeconds: options.runTime)
    var history: [HistoryPoint] = []
    var previousRequests = 0
    var previousFailures = 0
    var spawned = 0
    var nextReport = start + 1_000_000_000

    if let rate = options.rate {
      let perLoop = rate / Double(states.count)
      for (index, state) in states.enumerated() {
        let connections = options.users / states.count + (index < options.users % states.count ? 1 : 0)
        state.loop.execute { state.startOpenLoop(connections: max(1, connections), rate: perLoop, firstUser: index) }
      }
      spawned = options.users
    }
    while true {
      let now = monotonicNanoseconds()
      let elapsed = now &- start
      if elapsed >= runNanoseconds { break }
      if options.rate == nil {
        let due = min(options.users, Int(Double(elapsed) / 1e9 * options.spawnRate) + 1)
        while spawned < due {
          let state = states[spawned % states.count]
          let user = spawned
          state.loop.execute { state.spawnUser(id: user) }
          spawned += 1
        }
      }
      if now >= nextReport {
        let (merged, interval) = collect(resetInterval: true)
        let total = merged.total
        let point = HistoryPoint(
          timestamp: Date().timeIntervalSince1970, users: spawned,
          requestsPerSecond: Double(total.requests - previousRequests),
          failuresPerSecond: Double(total.failures - previousFailures),
          intervalP50: interval.milliseconds(atPercentile: 50), intervalP99: interval.milliseconds(atPercentile: 99),
          cumulative: total)
        previousRequests = total.requests
        previousFailures = total.failures
        history.append(point)
        progress(point)
        nextReport += 1_000_000_000
      }
      usleep(2_000)
    }
    // Stop starting work; let requests in flight finish up to the stop timeout.
    for state in states { state.loop.execute { state.stop() } }
    let drainDeadline = monotonicNanoseconds() + nanoseconds(fromSeconds: options.stopTimeout)
    while monotonicNanoseconds() < drainDeadline && inFlight() > 0 { usleep(2_000) }
    for state in states { state.loop.execute { state.closeAll() } }
    let duration = Double(monotonicNanoseconds() &- start) / 1e9
    let (statistics, _) = collect(resetInterval: false)
    let connectOnly =
      statistics.total.requests == statistics.failures.values.reduce(0) { $0 + $1.occurrences }
      && !statistics.failures.isEmpty && statistics.failures.keys.allSatisfy { $0.error.hasPrefix("connect") }
    return LoadResult(
      statistics: statistics, history: history, started: startedAt, duration: min(duration, options.runTime),
      users: spawned, options: options, scenarioName: scenario.name, connectFailuresOnly: connectOnly)
  }

  private func inFlight() -> Int {
    let counter = InFlightCounter()
    let done = DispatchGroup()
    for state in states {
      done.enter()
      state.loop.execute {
        counter.add(state.inFlight)
        done.leave()
      }
    }
    _ = done.wait(timeout: .now() + 1)
    return counter.value
  }

  /// Every loop's statistics merged, and (optionally reset) this interval's aggregate.
  private func collect(resetInterval: Bool) -> (LoadStatistics, RequestStatistics) {
    let box = CollectBox()
    let done = DispatchGroup()
    for state in states {
      done.enter()
      state.loop.execute {
        box.add(state.statistics, state.interval)
        if resetInterval { state.interval = RequestStatistics(method: "", name: "interval") }
        done.leave()
      }
    }
    _ = done.wait(timeout: .now() + 5)
    return box.result
  }
}

private final class InFlightCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var total = 0
  func add(_ value: Int) { lock.withLock { total += value } }
  var value: Int { lock.withLock { total } }
}

private final class CollectBox: @unchecked Sendable {
  private let lock = NSLock()
  private var statistics = LoadStatistics()
  private var interval = RequestStatistics(method: "", name: "interval")
  func add(_ other: LoadStatistics, _ otherInterval: RequestStatistics) {
    lock.withLock {
      statistics.merge(other)
      interval.merge(otherInterval)
    }
  }
  var result: (LoadStatistics, RequestStatistics) { lock.withLock { (statistics, interval) } }
}
