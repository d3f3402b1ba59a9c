import Codecs
import HTTPCore
import Reactor

/// One simulated user: one keep-alive connection (or, with `--http2`, a stream at a time on a
/// connection shared with other users), a loop of weighted tasks with waits between them (closed
/// loop), or a sender the open-loop scheduler hands requests to.
final class VirtualUser {
  let id: Int
  /// The user's position on its loop (which shared HTTP/2 connection it uses).
  let position: Int
  /// The loop's state outlives its users (`closeAll` drops them first); `unowned(unsafe)`
  /// because a checked unowned reference costs an atomic retain and release per access, and
  /// the state is read several times a request.
  unowned(unsafe) let state: LoopState
  var connection: HTTPClientConnection?
  var http2: HTTP2ClientConnection?
  var random: FastRandom
  var counter = 0
  var stopped = false
  var openLoop = false
  /// Reused request bytes (no per-request allocation once grown).
  var requestBytes: [UInt8] = []
  var bodyBytes: [UInt8] = []
  var timer: TimerID?

  init(id: Int, position: Int, state: LoopState) {
    self.id = id
    self.position = position
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
    if options.http2 {
      state.sharedConnection(forUserAt: position).withConnection(state: state) { [self] connection, error in
        http2 = connection
        if let error { state.recordConnectFailure(error, task: state.pickTask(&random)) }
        done(connection != nil)
      }
      return
    }
    HTTPClientConnection.connect(loop: state.loop, host: options.address, port: options.port, timeout: 5) {
      [self] result in
      switch result {
      case .success(let connection):
        connection.keepsResponseFields = false  // status and length are all a run records
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

  func runTask() {
    guard !stopped else { return }
    send(scheduledAt: monotonicNanoseconds(), task: state.pickTask(&random))
  }

  /// Sends one request for `task`; its latency counts from `scheduledAt`.
  func send(scheduledAt: UInt64, task: Int) {
    if state.options.http2 { return sendStream(scheduledAt: scheduledAt, task: task) }
    guard let connection, connection.isOpen else {
      // The connection broke: count it and reconnect.
      self.connection = nil
      state.recordConnectFailure(.connectionClosed, task: task)
      reconnectThenContinue()
      return
    }
    let parts = state.requestParts[task]
    if parts.constantRequest == nil { encode(parts) }
    counter += 1
    state.inFlight += 1
    sentTask = task
    sentScheduledAt = scheduledAt
    connection.send(
      encoded: parts.constantRequest ?? requestBytes, isHead: parts.isHead, timeout: state.options.requestTimeout,
      completion: completion)
  }

  /// The one HTTP/1.1 request in flight (a user sends the next only after this one's answer).
  private var sentTask = 0
  private var sentScheduledAt: UInt64 = 0
  /// Made once and passed with every request: a closure literal per request would allocate its
  /// captures each time.
  private lazy var completion: HTTPClientConnection.Completion = { [unowned(unsafe) self] result in
    completed(result)
  }

  private func completed(_ result: Result<HTTPClientResponse, HTTPClientError>) {
    let finished = monotonicNanoseconds()
    let task = sentTask
    let scheduledAt = sentScheduledAt
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

  /// `send` over HTTP/2: one stream on the shared connection. A failed request does not close
  /// the connection (its stream was reset); a closed connection is reconnected.
  private func sendStream(scheduledAt: UInt64, task: Int) {
    guard let http2, http2.isOpen else {
      self.http2 = nil
      state.recordConnectFailure(.connectionClosed, task: task)
      reconnectThenContinue()
      return
    }
    let request = render(task)
    counter += 1
    state.inFlight += 1
    http2.send(request, timeout: state.options.requestTimeout) { [self] result in
      let finished = monotonicNanoseconds()
      state.inFlight -= 1
      if case .failure(.cancelled) = result, stopped { return }
      state.record(task: task, result: result, microseconds: (finished &- scheduledAt) / 1000)
      if case .failure = result, !(self.http2?.isOpen ?? false) {
        self.http2 = nil
        reconnectThenContinue()
        return
      }
      continueAfter(elapsed: finished &- scheduledAt)
    }
  }

  /// The request for `task` as fields (HTTP/2 encodes them itself).
  private func render(_ task: Int) -> HTTPClientRequest {
    let definition = state.scenario.tasks[task]
    let generators = state.scenario.generators
    requestBytes.removeAll(keepingCapacity: true)
    definition.path.render(into: &requestBytes, generators: generators, random: &random, user: id, counter: counter)
    var headers = HTTPHeaders()
    headers.add(name: "host", value: state.options.hostHeader)
    for (name, value) in definition.headers {
      bodyBytes.removeAll(keepingCapacity: true)
      value.render(into: &bodyBytes, generators: generators, random: &random, user: id, counter: counter)
      headers.add(name: name, value: String(decoding: bodyBytes, as: UTF8.self))
    }
    var body: [UInt8] = []
    if let template = definition.body {
      template.render(into: &body, generators: generators, random: &random, user: id, counter: counter)
    }
    return HTTPClientRequest(
      method: HTTPMethod(definition.method), target: String(decoding: requestBytes, as: UTF8.self), headers: headers,
      body: body)
  }

  private func continueAfter(elapsed: UInt64) {
    if openLoop {
      state.released(self)
      return
    }
    guard !stopped else { return }
    let wait = state.scenario.waitTime.nanoseconds(after: elapsed, random: &random)
    if wait == 0 {
      state.sendAtEndOfBatch(self)
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

  /// Renders the request line, headers and body of `task` into `requestBytes`; the fixed
  /// parts come pre-encoded from the loop (`RequestParts`), only the templates are rendered.
  private func encode(_ parts: RequestParts) {
    let generators = state.generators
    requestBytes.removeAll(keepingCapacity: true)
    requestBytes.append(contentsOf: parts.methodAndSpace)
    parts.path.render(into: &requestBytes, generators: generators, random: &random, user: id, counter: counter)
    requestBytes.append(contentsOf: parts.versionAndHost)
    for index in parts.headerValues.indices {
      requestBytes.append(contentsOf: parts.headerPrefixes[index])
      parts.headerValues[index].render(
        into: &requestBytes, generators: generators, random: &random, user: id, counter: counter)
      requestBytes.append(contentsOf: RequestParts.lineEnd)
    }
    if let body = parts.body {
      bodyBytes.removeAll(keepingCapacity: true)
      body.render(into: &bodyBytes, generators: generators, random: &random, user: id, counter: counter)
      requestBytes.append(contentsOf: RequestParts.contentLength)
      DecimalDigits.append(Int64(bodyBytes.count), to: &requestBytes)
      requestBytes.append(contentsOf: RequestParts.headEnd)
      requestBytes.append(contentsOf: bodyBytes)
    } else {
      requestBytes.append(contentsOf: RequestParts.lineEnd)
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
