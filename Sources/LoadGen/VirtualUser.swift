import HTTPCore
import Reactor

/// One simulated user: one keep-alive connection, a loop of weighted tasks with waits between
/// them (closed loop), or a connection the open-loop scheduler hands requests to.
final class VirtualUser {
  let id: Int
  unowned let state: LoopState
  var connection: HTTPClientConnection?
  var random: FastRandom
  var counter = 0
  var stopped = false
  var openLoop = false
  /// Reused request bytes (no per-request allocation once grown).
  var requestBytes: [UInt8] = []
  var bodyBytes: [UInt8] = []
  var timer: TimerID?

  init(id: Int, state: LoopState) {
    self.id = id
    self.state = state
    random = FastRandom(seed: UInt64(id + 1) &* 0x9E37_79B9_7F4A_7C15)
  }

  /// Closed loop: connect, then run tasks until stopped.
  func start() {
    connect { [self] connected in
      if connected { runTask() } else { retryLater() }
    }
  }

  func connect(_ done: @escaping (Bool) -> Void) {
    let options = state.options
    HTTPClientConnection.connect(loop: state.loop, host: options.address, port: options.port, timeout: 5) {
      [self] result in
      switch result {
      case .success(let connection):
        self.connection = connection
        done(true)
      case .failure(let error):
        state.recordConnectFailure(error, task: state.pickTask(&random))
        done(false)
      }
    }
  }

  private func retryLater() {
    guard !stopped else { return }
    timer = state.loop.schedule(afterNanoseconds: 1_000_000_000) { [weak self] in self?.start() }
  }

  private func runTask() {
    guard !stopped else { return }
    send(scheduledAt: monotonicNanoseconds(), task: state.pickTask(&random))
  }

  /// Sends one request for `task`; its latency counts from `scheduledAt`.
  func send(scheduledAt: UInt64, task: Int) {
    guard let connection, connection.isOpen else {
      // The connection broke: count it and reconnect.
      self.connection = nil
      state.recordConnectFailure(.connectionClosed, task: task)
      reconnectThenContinue()
      return
    }
    encode(task)
    counter += 1
    state.inFlight += 1
    connection.send(
      encoded: requestBytes, isHead: state.scenario.tasks[task].method == "HEAD", timeout: state.options.requestTimeout
    ) {
      [self] result in
      let finished = monotonicNanoseconds()
      state.inFlight -= 1
      // Requests cut off at the end of the run (after --stop-timeout) are not results.
      if case .failure(.cancelled) = result, stopped { return }
      state.record(task: task, result: result, microseconds: (finished &- scheduledAt) / 1000)
      if case .failure = result {
        self.connection?.close()
        self.connection = nil
        reconnectThenContinue()
        return
      }
      continueAfter(elapsed: finished &- scheduledAt)
    }
  }

  private func continueAfter(elapsed: UInt64) {
    if openLoop {
      state.released(self)
      return
    }
    guard !stopped else { return }
    let wait = state.scenario.waitTime.nanoseconds(after: elapsed, random: &random)
    if wait == 0 {
      runTask()
    } else {
      timer = state.loop.schedule(afterNanoseconds: wait) { [weak self] in self?.runTask() }
    }
  }

  private func reconnectThenContinue() {
    guard !stopped else { return }
    connect { [self] connected in
      if connected {
        continueAfter(elapsed: 0)
      } else {
        timer = state.loop.schedule(afterNanoseconds: 1_000_000_000) { [weak self] in self?.reconnectThenContinue() }
      }
    }
  }

  /// Renders the request line, headers and body of `task` into `requestBytes`.
  private func encode(_ task: Int) {
    let definition = state.scenario.tasks[task]
    let generators = state.scenario.generators
    requestBytes.removeAll(keepingCapacity: true)
    requestBytes.append(contentsOf: definition.method.utf8)
    requestBytes.append(UInt8(ascii: " "))
    definition.path.render(into: &requestBytes, generators: generators, random: &random, user: id, counter: counter)
    requestBytes.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
    requestBytes.append(contentsOf: state.options.hostHeader.utf8)
    requestBytes.append(contentsOf: "\r\n".utf8)
    for (name, value) in definition.headers {
      requestBytes.append(contentsOf: name.utf8)
      requestBytes.append(contentsOf: ": ".utf8)
      value.render(into: &requestBytes, generators: generators, random: &random, user: id, counter: counter)
      requestBytes.append(contentsOf: "\r\n".utf8)
    }
    if let body = definition.body {
      bodyBytes.removeAll(keepingCapacity: true)
      body.render(into: &bodyBytes, generators: generators, random: &random, user: id, counter: counter)
      requestBytes.append(contentsOf: "Content-Length: ".utf8)
      requestBytes.append(contentsOf: String(bodyBytes.count).utf8)
      requestBytes.append(contentsOf: "\r\n\r\n".utf8)
      requestBytes.append(contentsOf: bodyBytes)
    } else {
      requestBytes.append(contentsOf: "\r\n".utf8)
    }
  }

  func close() {
    stopped = true
    if let timer { state.loop.cancel(timer) }
    timer = nil
    connection?.close()
    connection = nil
  }
}
