import Foundation
import HTTPCore
import Reactor

/// One loop's share of a run: its users (closed loop) or its connections and schedule (open
/// loop), and what it measured. Touched only on its loop's thread.
final class LoopState: @unchecked Sendable {
  let loop: EventLoop
  let scenario: Scenario
  let options: LoadOptions
  let cumulativeWeights: [Int]
  let totalWeight: Int
  /// Statistics slot of each task.
  var taskSlots: [Int] = []
  /// Each task's fixed request bytes, encoded once, and its templates.
  let requestParts: [RequestParts]
  /// The scenario's variables (read on every request: kept here, not copied out of `scenario`).
  let generators: [VariableGenerator]
  /// What this loop measured since the runner last collected (then it starts afresh).
  var statistics = LoadStatistics()
  var users: [VirtualUser] = []
  var stopped = false
  var inFlight = 0
  /// HTTP/2: the connections this loop's users share, by slot (user position / streams each).
  var sharedConnections: [SharedHTTP2Connection] = []

  /// The shared HTTP/2 connection of the `position`th user of this loop.
  func sharedConnection(forUserAt position: Int) -> SharedHTTP2Connection {
    let slot = position / max(1, options.streamsPerConnection)
    while sharedConnections.count <= slot { sharedConnections.append(SharedHTTP2Connection()) }
    return sharedConnections[slot]
  }

  // Open loop.
  var idle: [VirtualUser] = []
  /// Requests due but not sent for want of a free connection. Their due times are consecutive
  /// slots of the schedule (while any waits, no connection is idle, so every later slot waits
  /// too), so the oldest's time and a count say it all: no memory per waiting request however
  /// long the server stalls (a queue of times grew by 80 MB a second at 10⁷ requests/s).
  var waitingCount = 0
  var oldestWaitingDue: UInt64 = 0
  var nextDue: UInt64 = 0
  var scheduleInterval: UInt64 = 0
  var scheduler: TimerID? = nil
  var random = FastRandom(seed: 0x5EED)

  init(loop: EventLoop, scenario: Scenario, options: LoadOptions) {
    self.loop = loop
    self.scenario = scenario
    self.options = options
    cumulativeWeights = scenario.cumulativeWeights
    requestParts = scenario.tasks.map { RequestParts(task: $0, hostHeader: options.hostHeader) }
    generators = scenario.generators
    totalWeight = cumulativeWeights.last ?? 1
    random = FastRandom(seed: 0x5EED &+ UInt64(loop.index) &* 0x9E37_79B9)
    taskSlots = scenario.tasks.map { statistics.slot(method: $0.method, name: $0.name) }
  }

  /// A task index by weight.
  func pickTask(_ random: inout FastRandom) -> Int {
    let draw = Int(random.next() % UInt64(totalWeight))
    var index = 0
    while cumulativeWeights[index] <= draw { index += 1 }
    return index
  }

  /// Records one finished request.
  func record(task: Int, result: Result<HTTPClientResponse, HTTPClientError>, microseconds: UInt64) {
    var failure: String? = nil
    var bytes = 0
    switch result {
    case .success(let response):
      bytes = response.bodyByteCount
      if let expected = requestParts[task].expectedStatus {
        if response.status != expected { failure = "unexpected status \(response.status) (expected \(expected))" }
      } else if response.status >= 400 {
        failure = "HTTP \(response.status)"
      }
    case .failure(let error):
      switch error {
      case .connectFailed, .connectTimeout: failure = "connect: \(error)"
      case .timeout: failure = "timeout: no response in \(options.requestTimeout) s"
      default: failure = "connection: \(error)"
      }
    }
    statistics.entries[taskSlots[task]].record(microseconds: microseconds, contentBytes: bytes, failed: failure != nil)
    if let failure {
      let definition = scenario.tasks[task]
      statistics.recordFailure(
        FailureKey(method: definition.method, name: definition.name, error: failure), now: Date().timeIntervalSince1970)
    }
  }

  /// A connection that could not be made counts as a failed request of the task it was for.
  func recordConnectFailure(_ error: HTTPClientError, task: Int) {
    record(task: task, result: .failure(error), microseconds: 0)
  }

  // MARK: Closed loop

  /// Users whose next request goes out once the loop has handled every event of this batch.
  private var ready: [VirtualUser] = []
  private var sending: [VirtualUser] = []
  /// Made once: handing the loop a stored closure allocates nothing per batch.
  private lazy var sendReady: () -> Void = { [unowned(unsafe) self] in
    swap(&ready, &sending)
    for user in sending { user.runTask() }
    sending.removeAll(keepingCapacity: true)
  }

  /// Queues `user`'s next request for the end of the batch, as wrk does: the responses of a
  /// batch are all read before any next request is written, so the server gets its requests in
  /// bursts it reads together (measured: fewer wake-ups on both sides, a higher rate against
  /// nginx than writing each request as its predecessor's answer is read).
  func sendAtEndOfBatch(_ user: VirtualUser) {
    if ready.isEmpty { loop.deferUntilEndOfBatch(sendReady) }
    ready.append(user)
  }

  func spawnUser(id: Int) {
    guard !stopped else { return }
    let user = VirtualUser(id: id, position: users.count, state: self)
    users.append(user)
    user.start()
  }

  // MARK: Open loop

  func startOpenLoop(connections: Int, rate: Double, firstUser: Int) {
    scheduleInterval = max(1, nanoseconds(fromSeconds: 1 / rate))  // saturates: a tiny rate cannot trap
    var ready = 0
    for index in 0..<connections {
      let user = VirtualUser(
        id: options.firstUserID + firstUser + index * max(1, options.threads), position: users.count, state: self)
      user.openLoop = true
      users.append(user)
      user.connect { [self] connected in
        if connected { idle.append(user) }
        ready += 1
        if ready == connections { beginSchedule() }
      }
    }
  }

  private func beginSchedule() {
    guard !stopped else { return }
    nextDue = monotonicNanoseconds()
    tick()
  }

  /// Starts every request whose time has come, then sleeps until the next one.
  private func tick() {
    guard !stopped else { return }
    let now = monotonicNanoseconds()
    while nextDue <= now {
      let lag = now - nextDue
      statistics.scheduled += 1
      if Double(lag) > options.lateThreshold * 1e9 {
        statistics.lateStarts += 1
        statistics.maxLagMicroseconds = max(statistics.maxLagMicroseconds, lag / 1000)
      }
      dispatch(scheduledAt: nextDue)
      nextDue += scheduleInterval
    }
    scheduler = loop.schedule(atDeadline: nextDue) { [weak self] in self?.tick() }
  }

  private func dispatch(scheduledAt: UInt64) {
    if let user = idle.popLast() {
      user.send(scheduledAt: scheduledAt, task: pickTask(&random))
    } else {
      // Latency counts the wait for a free connection.
      if waitingCount == 0 { oldestWaitingDue = scheduledAt }
      waitingCount += 1
    }
  }

  /// An open-loop connection is free again.
  func released(_ user: VirtualUser) {
    guard !stopped else { return }
    if waitingCount > 0 {
      let scheduledAt = oldestWaitingDue
      oldestWaitingDue &+= scheduleInterval
      waitingCount -= 1
      user.send(scheduledAt: scheduledAt, task: pickTask(&random))
    } else {
      idle.append(user)
    }
  }

  // MARK: Stopping

  func stop() {
    stopped = true
    if let scheduler { loop.cancel(scheduler) }
    scheduler = nil
    for user in users { user.stopped = true }
    // Open loop: requests still waiting for a connection at the end were due and never sent;
    // they count, as failures, with the time they waited (hiding them would hide the overload).
    let now = monotonicNanoseconds()
    while waitingCount > 0 {
      let task = pickTask(&random)
      let definition = scenario.tasks[task]
      let waited = now >= oldestWaitingDue ? now - oldestWaitingDue : 0
      statistics.entries[taskSlots[task]].record(microseconds: waited / 1000, contentBytes: 0, failed: true)
      statistics.recordFailure(
        FailureKey(
          method: definition.method, name: definition.name,
          error: "not sent: still waiting for a free connection when the run ended"),
        now: Date().timeIntervalSince1970)
      oldestWaitingDue &+= scheduleInterval
      waitingCount -= 1
    }
  }

  func closeAll() {
    for user in users { user.close() }
    users.removeAll()
    idle.removeAll()
    for shared in sharedConnections { shared.close() }
    sharedConnections.removeAll()
  }
}
