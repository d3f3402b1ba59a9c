import Dispatch
import Foundation
import Reactor

/// `loadgen --master`: waits for its workers, hands each its share of the load, and merges what
/// they report, second by second, exactly (HdrHistogram buckets, not rounded times). It sends
/// no load itself, like Locust's master. Everything but `run` happens on its own loop.
public final class DistributedMaster: @unchecked Sendable {
  let options: MasterOptions
  let scenario: Scenario
  private let group: EventLoopGroup
  private var loop: EventLoop { group.loops[0] }
  private let listener: FrameListener

  private final class Worker {
    let connection: FrameConnection
    let hello: WireMessage.Hello
    var users = 0
    var rate: Double? = nil
    /// The last second it reported (reports come in order, one per second).
    var lastSecond = 0
    var finished = false
    var lost: String? = nil
    var lastHeard: UInt64 = 0
    var requests = 0
    var failures = 0
    init(connection: FrameConnection, hello: WireMessage.Hello) {
      self.connection = connection
      self.hello = hello
    }
  }

  private var workers: [Worker] = []
  private var pending: [FrameConnection] = []
  private var started = false
  private var startedAt = 0.0
  private var runStart: UInt64 = 0
  private var done = false
  private var failure: DistributedError? = nil
  /// Everything every worker reported so far, merged as it arrives.
  private var statistics = LoadStatistics()
  /// Its totals, checked before each merge: every other sum the master keeps (per name, per
  /// second, per worker, failures) is at most one of these, so none can overflow.
  private var acceptedTotals = RunningTotals()

  /// Seconds some worker has reported and not every live worker yet: their responses merged
  /// across workers. Kept only until complete (a histogram is ~190 KB: keeping every worker's
  /// every second would grow by megabytes a second).
  private var pendingSeconds: [Int: PendingSecond] = [:]
  private var history: [HistoryPoint] = []
  /// Every completed second's responses, all names: each history point's run-so-far.
  private var historyTotal = RequestStatistics(method: "", name: "Aggregated")

  private struct PendingSecond {
    var interval = RequestStatistics(method: "", name: "interval")
    var users = 0
    var timestamp = 0.0
  }
  private let finished = DispatchSemaphore(value: 0)
  private var progress: @Sendable (HistoryPoint) -> Void = { _ in }
  private var log: @Sendable (String) -> Void = { _ in }

  /// Binds the listener (so `port` is known) and checks the scenario.
  public init(options: MasterOptions) throws {
    self.options = options
    scenario = try options.scenario.load()
    group = try EventLoopGroup(threads: 1)
    let host = options.bindHost == "*" ? "0.0.0.0" : options.bindHost
    let address: SocketAddress
    do {
      address = try SocketAddress(
        host: try HostResolution.numericAddress(of: host, preferIPv4: true), port: options.bindPort)
    } catch {
      throw DistributedError("--master-bind-host '\(options.bindHost)': \(error)")
    }
    do {
      listener = try FrameListener(
        loop: group.loops[0], address: address, maximumFrameBytes: options.maximumFrameBytes)
    } catch {
      throw DistributedError("cannot listen for workers on \(address): \(error)")
    }
  }

  /// The port workers connect to.
  public var port: Int { listener.port }

  /// Waits for the workers, runs, and returns the merged result. `progress` gets a point per
  /// second once every live worker has reported it; `log` hears joins, refusals and losses.
  public func run(
    progress: @escaping @Sendable (HistoryPoint) -> Void = { _ in },
    log: @escaping @Sendable (String) -> Void = { _ in }
  ) throws -> LoadResult {
    self.progress = progress
    self.log = log
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    _ = loop.execute { [self] in
      do {
        try listener.start()
      } catch {
        finish(failing: DistributedError("cannot accept workers: \(error)"))
        return
      }
      listener.onConnection = { [unowned self] connection in admit(connection) }
      if let wait = options.expectWorkersMaxWait {
        _ = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: wait)) { [self] in
          guard !started, !done else { return }
          finish(
            failing: DistributedError(
              "only \(workers.count) of \(options.expectWorkers) workers joined within \(wait) s (--expect-workers-max-wait)"
            ))
        }
      }
      watch()
    }
    finished.wait()
    let outcome = ResultBox()
    let collected = DispatchSemaphore(value: 0)
    _ = loop.execute { [self] in
      if let failure {
        outcome.failure = failure
      } else {
        outcome.result = mergedResult()
      }
      for worker in workers { worker.connection.close(reason: "run over") }
      for connection in pending { connection.close(reason: "run over") }
      listener.close()
      collected.signal()
    }
    collected.wait()
    if let failure = outcome.failure { throw failure }
    return outcome.result!
  }

  // MARK: Joining

  private func admit(_ connection: FrameConnection) {
    pending.append(connection)
    connection.onClose = { [unowned self, unowned connection] _ in
      pending.removeAll { $0 === connection }
    }
    connection.onMessage = { [unowned self, unowned connection] message in
      pending.removeAll { $0 === connection }
      guard case .hello(let hello) = message else {
        refuse(connection, "the first message must be hello")
        return
      }
      join(connection, hello)
    }
    // A peer that never says hello does not hold a slot.
    _ = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: 10)) { [weak connection] in
      guard let connection, !connection.isClosed else { return }
      if self.pending.contains(where: { $0 === connection }) {
        self.pending.removeAll { $0 === connection }
        connection.close(reason: "no hello within 10 s")
      }
    }
  }

  private func join(_ connection: FrameConnection, _ hello: WireMessage.Hello) {
    let who = "\(hello.name) (\(connection.peer))"
    if hello.protocolVersion != distributedProtocolVersion || hello.version != loadgenVersion {
      refuse(
        connection,
        "version mismatch: the master is loadgen \(loadgenVersion) (protocol \(distributedProtocolVersion)), the worker \(who) is loadgen \(hello.version) (protocol \(hello.protocolVersion))"
      )
      return
    }
    if let fingerprint = hello.scenarioFingerprint, fingerprint != options.scenario.fingerprint {
      refuse(
        connection,
        "scenario mismatch: the worker \(who) was started with a different scenario than the master's '\(scenario.name)'; start it without --scenario (the master sends its own) or with the same file"
      )
      return
    }
    if started || workers.count >= options.expectWorkers {
      refuse(connection, "the run already has its \(options.expectWorkers) workers (--expect-workers)")
      return
    }
    let worker = Worker(connection: connection, hello: hello)
    workers.append(worker)
    log("worker \(who) joined (\(workers.count) of \(options.expectWorkers))")
    connection.onClose = { [unowned self, unowned worker] reason in
      if started {
        lose(worker, reason)
      } else {
        workers.removeAll { $0 === worker }
        log("worker \(who) left before the start: \(reason)")
      }
    }
    connection.onMessage = { [unowned self, unowned worker] message in received(message, from: worker) }
    if workers.count == options.expectWorkers { start() }
  }

  private func refuse(_ connection: FrameConnection, _ reason: String) {
    log("refused a worker: \(reason)")
    connection.onClose = { _ in }
    connection.send(.refuse(reason: reason))
    connection.closeAfterFlush(reason: "refused")
  }

  // MARK: Running

  /// Splits the load: users (or connections) as evenly as whole numbers allow, the spawn rate
  /// and the arrival rate in proportion.
  private func start() {
    started = true
    startedAt = Date().timeIntervalSince1970 + options.startDelay
    runStart = monotonicNanoseconds() + nanoseconds(fromSeconds: options.startDelay)
    let load = options.load
    let count = workers.count
    var firstUser = 0
    for (index, worker) in workers.enumerated() {
      let users = load.users / count + (index < load.users % count ? 1 : 0)
      worker.users = load.rate == nil ? users : max(1, users)
      worker.rate = load.rate.map { $0 / Double(count) }
      worker.lastHeard = runStart
      let spawnRate = load.users == 0 ? load.spawnRate : load.spawnRate * Double(users) / Double(load.users)
      worker.connection.send(
        .start(
          WireMessage.Start(
            host: options.host, scenario: options.scenario, users: worker.users, spawnRate: max(spawnRate, 1e-3),
            rate: worker.rate, runTime: load.runTime, stopTimeout: load.stopTimeout,
            requestTimeout: load.requestTimeout, http2: load.http2, streamsPerConnection: load.streamsPerConnection,
            firstUserID: firstUser, startDelay: options.startDelay)))
      firstUser += worker.users
    }
    log("started \(count) workers")
  }

  private func received(_ message: WireMessage, from worker: Worker) {
    guard case .report(let report) = message, !worker.finished, worker.lost == nil else {
      if case .report = message { return }
      lose(worker, "sent an unexpected message")
      return
    }
    guard let delta = report.statistics.restored(), report.second >= 1, report.second < 10_000_000,
      report.users >= 0, report.users <= 10_000_000, report.timestamp.isFinite
    else {
      lose(worker, "sent a report that is not valid statistics")
      return
    }
    worker.lastHeard = monotonicNanoseconds()
    guard report.isFinal || report.second == worker.lastSecond + 1 else {
      lose(worker, "reported second \(report.second) after second \(worker.lastSecond)")
      return
    }
    let total = delta.total
    guard let grown = acceptedTotals.adding(total, scheduled: delta.scheduled) else {
      lose(worker, "reported counts that overflow the run's totals")
      return
    }
    acceptedTotals = grown
    statistics.merge(delta)
    worker.requests += total.requests
    worker.failures += total.failures
    if report.isFinal {
      worker.finished = true
      emitCompleteSeconds()
      checkDone()
      return
    }
    worker.lastSecond = report.second
    var pending = pendingSeconds[report.second] ?? PendingSecond(timestamp: startedAt + Double(report.second))
    pending.interval.merge(total)
    pending.users += report.users
    pending.timestamp = max(pending.timestamp, report.timestamp)
    pendingSeconds[report.second] = pending
    emitCompleteSeconds()
  }

  private func lose(_ worker: Worker, _ reason: String) {
    guard !worker.finished, worker.lost == nil else { return }
    let after = Double(monotonicNanoseconds() &- runStart) / 1e9
    worker.lost = String(format: "lost after %.1f s: %@", max(0, after), reason)
    log("worker \(worker.hello.name) (\(worker.connection.peer)) \(worker.lost!); the run goes on")
    worker.connection.close(reason: reason)
    emitCompleteSeconds()
    checkDone()
  }

  /// Turns each second into its history point (and prints it) once every worker still running
  /// has reported it; `all` also the seconds a lost worker left incomplete (at the end).
  private func emitCompleteSeconds(all: Bool = false) {
    while let next = pendingSeconds.keys.min() {
      let waiting = workers.contains { $0.lost == nil && !$0.finished && $0.lastSecond < next }
      if waiting && !all { return }
      let pending = pendingSeconds.removeValue(forKey: next)!
      historyTotal.merge(pending.interval)
      let point = HistoryPoint(
        timestamp: pending.timestamp, users: pending.users, interval: pending.interval, cumulative: historyTotal)
      history.append(point)
      progress(point)
    }
  }

  /// Declares silent workers lost; ends the run when every worker has finished or is lost.
  private func watch() {
    guard !done else { return }
    if started {
      let now = monotonicNanoseconds()
      let runEnd = runStart + nanoseconds(fromSeconds: options.load.runTime)
      let timeout = nanoseconds(fromSeconds: options.heartbeatTimeout)
      for worker in workers where !worker.finished && worker.lost == nil {
        // After the run time a worker drains for up to the stop timeout without reporting.
        let quietUntil =
          now < runEnd
          ? worker.lastHeard + timeout
          : max(worker.lastHeard, runEnd) + nanoseconds(fromSeconds: options.load.stopTimeout) + timeout
        if now > quietUntil {
          lose(worker, String(format: "no report for %.1f s", Double(now &- worker.lastHeard) / 1e9))
        }
      }
    }
    _ = loop.schedule(afterNanoseconds: 200_000_000) { [weak self] in self?.watch() }
  }

  private func checkDone() {
    guard started, !done, workers.allSatisfy({ $0.finished || $0.lost != nil }) else { return }
    done = true
    finished.signal()
  }

  private func finish(failing error: DistributedError) {
    guard !done else { return }
    done = true
    failure = error
    finished.signal()
  }

  // MARK: Merging

  private func mergedResult() -> LoadResult {
    emitCompleteSeconds(all: true)
    var load = options.load
    load.threads = workers.reduce(0) { $0 + $1.hello.threads }
    let summaries = workers.map {
      WorkerSummary(
        name: $0.hello.name, address: $0.connection.peer, threads: $0.hello.threads, users: $0.users, rate: $0.rate,
        requests: $0.requests, failures: $0.failures, lost: $0.lost)
    }
    return LoadResult(
      statistics: statistics, history: history, started: startedAt, duration: options.load.runTime,
      users: workers.reduce(0) { $0 + $1.users }, options: load, scenarioName: scenario.name,
      connectFailuresOnly: statistics.onlyConnectFailures, workers: summaries)
  }
}

/// A run's totals as reports arrive, checked for overflow before each is merged.
struct RunningTotals {
  var requests = 0
  var microseconds: UInt64 = 0
  var contentBytes = 0
  var scheduled = 0

  /// These totals with `report` added, or nil if any would overflow.
  func adding(_ report: RequestStatistics, scheduled more: Int) -> RunningTotals? {
    let requests = requests.addingReportingOverflow(report.requests)
    let microseconds = microseconds.addingReportingOverflow(report.totalMicroseconds)
    let contentBytes = contentBytes.addingReportingOverflow(report.contentBytes)
    let scheduled = scheduled.addingReportingOverflow(more)
    guard !requests.overflow, !microseconds.overflow, !contentBytes.overflow, !scheduled.overflow else { return nil }
    return RunningTotals(
      requests: requests.partialValue, microseconds: microseconds.partialValue,
      contentBytes: contentBytes.partialValue, scheduled: scheduled.partialValue)
  }
}

private final class ResultBox: @unchecked Sendable {
  var result: LoadResult?
  var failure: DistributedError?
}
