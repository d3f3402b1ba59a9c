import Dispatch
import Foundation
import HTTPCore
import Reactor
import Synchronization

/// What one report interval measured: every loop's responses of that second, all names.
public struct IntervalReport: Sendable {
  /// 1 for the run's first second; the drain after the run time comes last, as `final`.
  public var second: Int
  /// Epoch seconds at the end of the interval.
  public var timestamp: Double
  public var users: Int
  /// Only this interval's measurements (a delta: merged in order they make the whole run).
  public var statistics: LoadStatistics
  /// The requests in flight finished after the run time (no history point of its own).
  public var isFinal: Bool
}

/// Runs a scenario against a target with one epoll loop per thread (HTTPCore's client), each
/// user holding one keep-alive connection. Closed loop (Locust's model) by default; open loop
/// (constant arrival rate, latency from the scheduled time) with `rate`.
///
/// Every second each loop hands over what it measured since the last hand-over and starts
/// afresh; the runner merges those deltas. A distributed worker sends the same deltas to its
/// master, which merges them the same way, so a fleet's percentiles are exact.
public final class LoadRunner: @unchecked Sendable {
  let scenario: Scenario
  let options: LoadOptions
  let group: EventLoopGroup
  let states: [LoopState]
  private let stopRequested = Atomic<Bool>(false)

  public init(scenario: Scenario, options: LoadOptions) throws {
    self.scenario = scenario
    self.options = options
    group = try EventLoopGroup(threads: max(1, options.threads))
    states = group.loops.map { LoopState(loop: $0, scenario: scenario, options: options) }
  }

  /// Ends the run early (from any thread): requests in flight get the stop timeout as usual.
  public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

  /// Runs to the end; `progress` gets a point every second and `intervals` every second's
  /// delta plus the final one (both on the calling thread).
  public func run(
    progress: (HistoryPoint) -> Void = { _ in }, intervals: (IntervalReport) -> Void = { _ in }
  ) throws -> LoadResult {
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    let startedAt = Date().timeIntervalSince1970
    let start = monotonicNanoseconds()
    let runNanoseconds = nanoseconds(fromSeconds: options.runTime)
    var history: [HistoryPoint] = []
    var statistics = LoadStatistics()
    var spawned = 0
    var second = 0
    var nextReport = start + 1_000_000_000

    if let rate = options.rate, options.users > 0 {
      let perLoop = rate / Double(states.count)
      for (index, state) in states.enumerated() {
        let connections = options.users / states.count + (index < options.users % states.count ? 1 : 0)
        state.loop.execute { state.startOpenLoop(connections: max(1, connections), rate: perLoop, firstUser: index) }
      }
      spawned = options.users
    }
    while !stopRequested.load(ordering: .relaxed) {
      let now = monotonicNanoseconds()
      let elapsed = now &- start
      if elapsed >= runNanoseconds { break }
      if options.rate == nil {
        // Compared as Doubles first: a huge spawn rate would make the product too large for Int.
        let due = Int(min(Double(options.users), Double(elapsed) / 1e9 * options.spawnRate + 1))
        while spawned < due {
          let state = states[spawned % states.count]
          let user = spawned + options.firstUserID
          state.loop.execute { state.spawnUser(id: user) }
          spawned += 1
        }
      }
      if now >= nextReport {
        second += 1
        let delta = collect()
        statistics.merge(delta)
        let timestamp = Date().timeIntervalSince1970
        let point = HistoryPoint(
          timestamp: timestamp, users: spawned, interval: delta.total, cumulative: statistics.total)
        history.append(point)
        intervals(
          IntervalReport(second: second, timestamp: timestamp, users: spawned, statistics: delta, isFinal: false))
        progress(point)
        nextReport += 1_000_000_000
      }
      // Sleep until the next thing this thread must do: the next report, the next user to
      // spawn, the end of the run, or a stop request (checked at least every 50 ms). Waking
      // every few milliseconds instead cost the load loop's core hundreds of context switches
      // a second (perf stat), which showed in the request rate.
      var wake = min(nextReport, start &+ runNanoseconds)
      if options.rate == nil && spawned < options.users {
        wake = min(wake, start &+ nanoseconds(fromSeconds: Double(spawned) / options.spawnRate))
      }
      let current = monotonicNanoseconds()
      if wake > current { usleep(UInt32(min(wake - current, 50_000_000) / 1000) + 1) }
    }
    // Stop starting work; let requests in flight finish up to the stop timeout.
    for state in states { state.loop.execute { state.stop() } }
    let drainDeadline = monotonicNanoseconds() + nanoseconds(fromSeconds: options.stopTimeout)
    while monotonicNanoseconds() < drainDeadline && inFlight() > 0 { usleep(2_000) }
    for state in states { state.loop.execute { state.closeAll() } }
    let duration = Double(monotonicNanoseconds() &- start) / 1e9
    let remainder = collect()
    statistics.merge(remainder)
    intervals(
      IntervalReport(
        second: second + 1, timestamp: Date().timeIntervalSince1970, users: spawned, statistics: remainder,
        isFinal: true))
    return LoadResult(
      statistics: statistics, history: history, started: startedAt, duration: min(duration, options.runTime),
      users: spawned, options: options, scenarioName: scenario.name,
      connectFailuresOnly: statistics.onlyConnectFailures)
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

  /// What every loop measured since the last call, merged; each loop starts afresh.
  private func collect() -> LoadStatistics {
    let box = CollectBox()
    let done = DispatchGroup()
    for state in states {
      done.enter()
      state.loop.execute {
        box.add(state.statistics)
        state.statistics = state.statistics.emptied()
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
  func add(_ other: LoadStatistics) { lock.withLock { statistics.merge(other) } }
  var result: LoadStatistics { lock.withLock { statistics } }
}
