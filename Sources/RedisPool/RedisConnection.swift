import CHiredis
import Logging
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One hiredis async connection driven by an `EventLoop`, in the manner of hiredis's own
/// `adapters/ae.h`: the five ev hooks toggle epoll interest, readiness calls
/// `redisAsyncHandleRead/Write`. Replies come back in command order, so completions wait in a
/// FIFO and no per-command context is handed to C.
///
/// Life cycle: connect → handshake (AUTH, SELECT, CLIENT SETNAME) → ready → lost → reconnect
/// after an exponential, jittered backoff. hiredis's `cleanup` hook is the one place where a
/// context is known to be gone (it fires on every path, including a failed connect, which never
/// calls the disconnect callback); the context is never touched after it.
final class RedisConnection: EventHandler {
  private enum State: Equatable {
    /// Waiting to (re)connect.
    case waiting
    case connecting, handshaking, ready
    /// The context is being freed (timeout, failed handshake): no new commands.
    case tearingDown
    case closed
  }

  /// Who gets a reply: a copied-out value, or a view read inside the callback.
  enum Completion {
    case value((RedisResult) -> Void)
    case view((RedisReplyResult) -> Void)

    func fail(_ error: RedisError) {
      switch self {
      case .value(let completion): completion(.failure(error))
      case .view(let completion): completion(.failure(error))
      }
    }
  }

  private struct Pending {
    var deadline: UInt64
    var started: UInt64
    /// nil once the command timed out: its caller has had its answer, and the reply, when it
    /// comes, is read and dropped.
    var completion: Completion?
    /// In a cluster, the command itself, to follow a redirection; nil otherwise.
    var command: RedisCommand?
    /// Redirections this command has followed so far.
    var redirects: Int
  }

  let loop: EventLoop
  let configuration: RedisConfiguration
  let statistics: RedisLoopStatistics
  /// The health of the server this connection talks to (shared with its other connections).
  private(set) var health: RedisLoopHealth
  let index: Int
  /// The server this connection talks to: the configured one, or a cluster node.
  private(set) var endpoint: RedisConfiguration.Endpoint
  /// Sends `READONLY` after connecting (a cluster replica serving reads).
  private(set) var readOnly = false
  /// In a cluster, the loop's router: it follows redirections and hears of lost connections.
  unowned var router: RedisLoopPool? = nil
  /// Whether a cluster connection has been given a node yet (it does not connect before).
  private var assigned = false
  /// The node to move to once the commands in flight are answered.
  private var pendingTarget: (endpoint: RedisConfiguration.Endpoint, readOnly: Bool)? = nil
  private var context: UnsafeMutablePointer<redisAsyncContext>? = nil
  /// Where this connection's replies are built (every context it creates reads into it).
  private let replyArena = ReplyArena()
  private var fd: Int32 = -1
  private var registered = false
  private var reading = false
  private var writing = false
  /// EPOLLOUT is registered (connecting, or the socket buffer was full at the end of a batch).
  private var watchingWritability = false
  private var flushScheduled = false
  private var registeredEvents: UInt32 = 0
  private var state = State.waiting
  private var pending: [Pending] = []
  private var pendingHead = 0
  private var commandTimer: TimerID? = nil
  private var commandTimerDeadline: UInt64 = 0
  /// When the last reply arrived (or the connection became ready).
  private var lastReplyAt: UInt64 = 0
  /// A command timed out and no reply has come since: Redis (or the path) is not answering on
  /// this connection, so new commands go elsewhere or fail fast, instead of each waiting out the
  /// command timeout. The first late reply clears it.
  private(set) var isStalled = false
  private var connectTimer: TimerID? = nil
  private var reconnectTimer: TimerID? = nil
  private var failedAttempts = 0
  private var everConnected = false
  /// Why the context is being torn down, for the commands that fail with it.
  private var teardownReason: RedisError? = nil
  private var lastLoggedProblem: String? = nil
  /// Whether this connection is counted in `connectionsUp`, and in which server's.
  private var countedUp = false
  private var countedIn: RedisLoopHealth? = nil

  init(
    loop: EventLoop, configuration: RedisConfiguration, statistics: RedisLoopStatistics, health: RedisLoopHealth,
    index: Int
  ) {
    self.loop = loop
    self.configuration = configuration
    self.statistics = statistics
    self.health = health
    self.index = index
    self.endpoint = configuration.endpoint
    assigned = !configuration.isCluster
  }

  var isReady: Bool { state == .ready }
  /// Commands sent and not yet answered, including timed-out ones whose reply is still due (a
  /// connection that owes replies is the last choice for new commands).
  var inFlight: Int { pending.count - pendingHead }
  /// Ready, with commands queued in this loop iteration that leave at its end in one write.
  var awaitsFlush: Bool { flushScheduled && state == .ready }
  /// The node this connection talks to, or will once it has moved, and in which role.
  var target: (endpoint: RedisConfiguration.Endpoint, readOnly: Bool)? {
    guard assigned else { return nil }
    return pendingTarget ?? (endpoint, readOnly)
  }

  // MARK: Connecting

  func connect() {
    guard state == .waiting else { return }
    reconnectTimer = nil
    let created: UnsafeMutablePointer<redisAsyncContext>?
    switch endpoint {
    case .tcp(let host, let port): created = redisAsyncConnect(host, Int32(port))
    case .unix(let path): created = redisAsyncConnectUnix(path)
    }
    guard let ac = created else {
      connectionFailed("cannot allocate a hiredis context")
      return
    }
    if ac.pointee.err != 0 {
      let reason = ac.pointee.errstr.map { String(cString: $0) } ?? "connect failed"
      redisAsyncFree(ac)
      connectionFailed(reason)
      return
    }
    context = ac
    fd = ac.pointee.c.fd
    if let reader = ac.pointee.c.reader { replyArena.adopt(reader) }
    state = .connecting
    teardownReason = nil
    let me = Unmanaged.passUnretained(self).toOpaque()
    ac.pointee.data = me
    ac.pointee.ev.data = me
    ac.pointee.ev.addRead = redisHookAddRead
    ac.pointee.ev.delRead = redisHookDelRead
    ac.pointee.ev.addWrite = redisHookAddWrite
    ac.pointee.ev.delWrite = redisHookDelWrite
    ac.pointee.ev.cleanup = redisHookCleanup
    // Hooks first, then the callbacks: setting the connect callback asks for a write event.
    redisAsyncSetConnectCallback(ac, redisConnectCallback)
    redisAsyncSetDisconnectCallback(ac, redisDisconnectCallback)
    connectTimer = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: configuration.connectTimeout)) {
      [weak self] in
      guard let self, self.state == .connecting || self.state == .handshaking, let ac = self.context else { return }
      self.connectTimer = nil
      // From a timer, not a hiredis callback: freed now, and cleanup runs.
      self.tearDown(ac, reason: .connectionLost("connect timed out after \(self.configuration.connectTimeout) s"))
    }
  }

  /// hiredis reports the TCP connection (status REDIS_OK) or its failure.
  fileprivate func connected(status: Int32, errorText: String?) {
    guard status == REDIS_OK else {
      // hiredis frees the context after this callback; cleanup follows.
      teardownReason = .connectionLost(errorText ?? "connect failed")
      return
    }
    state = .handshaking
    var steps: [RedisCommand] = []
    if let password = configuration.password {
      if let username = configuration.username {
        steps.append(RedisCommand("AUTH", username, password))
      } else {
        steps.append(RedisCommand("AUTH", password))
      }
    }
    if configuration.database != 0 { steps.append(RedisCommand("SELECT", String(configuration.database))) }
    if readOnly { steps.append(RedisCommand("READONLY")) }
    steps.append(RedisCommand("CLIENT", "SETNAME", configuration.clientName))
    var remaining = steps.count
    var failure: String? = nil
    for step in steps {
      enqueue(step) { [weak self] result in
        guard let self else { return }
        switch result {
        case .success(.error(let message)): failure = failure ?? "\(step.name) refused: \(message)"
        case .failure(let error): failure = failure ?? "\(step.name) failed: \(error)"
        default: break
        }
        remaining -= 1
        guard remaining == 0 else { return }
        if let failure {
          self.handshakeFailed(failure)
        } else {
          self.becameReady()
        }
      }
    }
  }

  private func becameReady() {
    guard state == .handshaking else { return }
    if let connectTimer { loop.cancel(connectTimer) }
    connectTimer = nil
    state = .ready
    lastReplyAt = monotonicNanoseconds()
    health.connectionReady(at: lastReplyAt)
    failedAttempts = 0
    if everConnected { statistics.reconnects.wrappingIncrement(ordering: .relaxed) }
    everConnected = true
    countedUp = true
    statistics.connectionsUp.wrappingIncrement(ordering: .relaxed)
    countedIn = health
    health.connectionsUp.wrappingIncrement(ordering: .relaxed)
    if lastLoggedProblem != nil {
      redisLogger.notice("redis connection is back", metadata: ["connection": "\(index)", "redis": "\(shownServer)"])
      lastLoggedProblem = nil
    }
  }

  /// The server, for logs: the URL, or the cluster node.
  private var shownServer: String {
    guard configuration.isCluster, case .tcp(let host, let port) = endpoint else { return configuration.redactedURL }
    return "cluster node \(ClusterTopology.address(host: host, port: port))"
  }

  // MARK: Moving between cluster nodes

  /// Points this connection at another cluster node (or a new role on the same one): at once when
  /// nothing is in flight, else once the replies in flight have come (no command is failed by a
  /// topology change). The router stops sending it commands before calling this.
  func retarget(to endpoint: RedisConfiguration.Endpoint, readOnly: Bool, health: RedisLoopHealth) {
    self.health = health
    if assigned && endpoint == self.endpoint && readOnly == self.readOnly && pendingTarget == nil { return }
    assigned = true
    switch state {
    case .closed:
      return
    case .waiting:
      pendingTarget = nil
      self.endpoint = endpoint
      self.readOnly = readOnly
      if let reconnectTimer { loop.cancel(reconnectTimer) }
      reconnectTimer = nil
      failedAttempts = 0
      lastLoggedProblem = nil  // the topology's log line says why it moved
      connect()
    case .tearingDown:
      pendingTarget = (endpoint, readOnly)  // cleanup picks it up
    case .connecting, .handshaking, .ready:
      pendingTarget = (endpoint, readOnly)
      if inFlight == 0, let ac = context {
        tearDown(ac, reason: .connectionLost("moved to another cluster node"))
      }
    }
  }

  /// Called after each reply: a connection waiting to move goes once it owes none.
  private func moveIfDrained() {
    guard pendingTarget != nil, inFlight == 0, state != .tearingDown, let ac = context else { return }
    tearDown(ac, reason: .connectionLost("moved to another cluster node"))
  }

  private func handshakeFailed(_ reason: String) {
    guard let ac = context else { return }
    tearDown(ac, reason: .connectionLost(reason))  // inside a reply callback hiredis defers the free
  }

  /// Takes the connection out of service at once (no new commands, not counted as up), then
  /// frees the context; its pending commands fail and cleanup schedules the reconnect.
  private func tearDown(_ ac: UnsafeMutablePointer<redisAsyncContext>, reason: RedisError) {
    teardownReason = reason
    if state != .closed { state = .tearingDown }
    markDown()
    redisAsyncFree(ac)
  }

  private func markDown() {
    guard countedUp else { return }
    countedUp = false
    statistics.connectionsUp.wrappingDecrement(ordering: .relaxed)
    countedIn?.connectionsUp.wrappingDecrement(ordering: .relaxed)
    countedIn = nil
  }

  // MARK: Commands

  /// Sends a command if this connection is ready; otherwise fails it with `.unavailable`.
  /// `redirects` counts the cluster redirections it has followed to get here.
  func send(_ command: RedisCommand, completion: Completion, redirects: Int = 0) {
    guard state == .ready else {
      statistics.record(.unavailable)
      completion.fail(.unavailable)
      return
    }
    enqueue(command, completion: completion, redirects: redirects)
  }

  private func enqueue(_ command: RedisCommand, completion: @escaping (RedisResult) -> Void) {
    enqueue(command, completion: .value(completion), redirects: 0)
  }

  private func enqueue(_ command: RedisCommand, completion: Completion, redirects: Int) {
    guard let ac = context else {
      completion.fail(.unavailable)
      return
    }
    let status = command.encoded.withUnsafeBufferPointer { bytes in
      bytes.withMemoryRebound(to: CChar.self) { chars in
        redisAsyncFormattedCommand(ac, redisReplyCallback, nil, chars.baseAddress, chars.count)
      }
    }
    guard status == REDIS_OK else {
      statistics.record(.connectionLost)
      completion.fail(.connectionLost("hiredis refused the command (connection closing)"))
      return
    }
    let now = monotonicNanoseconds()
    let deadline = now &+ nanoseconds(fromSeconds: configuration.commandTimeout)
    pending.append(
      Pending(
        deadline: deadline, started: now, completion: completion, command: router == nil ? nil : command,
        redirects: redirects))
    statistics.inFlight.wrappingIncrement(ordering: .relaxed)
    if commandTimer == nil || deadline < commandTimerDeadline {
      if let commandTimer { loop.cancel(commandTimer) }
      armCommandTimer(deadline)
    }
  }

  /// A reply (or NULL, when the connection is going away) for the oldest pending command.
  fileprivate func replyArrived(_ reply: UnsafeMutablePointer<redisReply>?, errorText: String?) {
    guard pendingHead < pending.count else { return }
    defer { if reply != nil { moveIfDrained() } }
    let entry = pending[pendingHead]
    pendingHead += 1
    if pendingHead == pending.count {
      pending.removeAll(keepingCapacity: true)
      pendingHead = 0
    } else if pendingHead > 1024 && pendingHead * 2 > pending.count {
      pending.removeFirst(pendingHead)
      pendingHead = 0
    }
    statistics.inFlight.wrappingDecrement(ordering: .relaxed)
    if reply != nil {
      isStalled = false
      lastReplyAt = monotonicNanoseconds()
      health.replyArrived(at: lastReplyAt)
    }
    guard let completion = entry.completion else {
      return  // answered `.timeout` already: its late reply (or loss) is dropped
    }
    if let reply {
      if reply.pointee.type == REDIS_REPLY_ERROR, let router, let command = entry.command,
        let redirect = ClusterRedirect(
          errorText: UnsafeRawBufferPointer(start: reply.pointee.str, count: reply.pointee.len))
      {
        statistics.recordRedirect(redirect.kind)
        router.follow(redirect, command: command, completion: completion, redirects: entry.redirects + 1)
        return
      }
      let now = lastReplyAt
      statistics.recordLatency(nanoseconds: now &- entry.started)
      statistics.record(reply.pointee.type == REDIS_REPLY_ERROR ? .errorReply : .ok)
      switch completion {
      case .value(let completion): completion(.success(RedisValue(reply: reply)))
      case .view(let completion): completion(.success(RedisReplyView(reply)))
      }
      return
    }
    let error: RedisError
    if teardownReason == .closed {
      statistics.record(.connectionLost)
      error = .closed
    } else {
      statistics.record(.connectionLost)
      let reason: String
      switch teardownReason {
      case .timeout?: reason = "reset after Redis stopped answering on it"
      case .connectionLost(let text)?: reason = text
      default: reason = errorText ?? "connection closed"
      }
      error = .connectionLost(reason)
    }
    completion.fail(error)
  }

  // MARK: Timeouts

  /// A command that gets no reply within the command timeout fails alone, with `.timeout`; the
  /// connection stays (replies come in order, so its reply is read and dropped when it comes),
  /// and the other commands on it are not disturbed. Only a connection that has had no reply at
  /// all for `stallTimeout` while commands wait is reset: Redis or the path to it is stuck.
  private func armCommandTimer(_ deadline: UInt64) {
    commandTimerDeadline = deadline
    commandTimer = loop.schedule(atDeadline: deadline) { [weak self] in
      guard let self else { return }
      self.commandTimer = nil
      self.checkTimeouts()
    }
  }

  private func checkTimeouts() {
    guard pendingHead < pending.count else { return }
    let now = monotonicNanoseconds()
    var nextDeadline = UInt64.max
    var index = pendingHead
    while index < pending.count {
      if let completion = pending[index].completion {
        if pending[index].deadline > now {
          nextDeadline = pending[index].deadline
          break
        }
        pending[index].completion = nil
        isStalled = true
        health.commandTimedOut(sentAt: pending[index].started)
        statistics.record(.timeout)
        completion.fail(.timeout)
        // The completion may have sent more commands (on this connection, too) or closed it.
        if state == .closed || context == nil { return }
      }
      index += 1
    }
    guard pendingHead < pending.count else { return }
    let waitingSince = max(lastReplyAt, pending[pendingHead].started)
    let stallDeadline = waitingSince &+ nanoseconds(fromSeconds: configuration.stallTimeout)
    if now >= stallDeadline, let ac = context {
      logProblem(
        "no reply on this connection for \(configuration.stallTimeout) s while commands waited; resetting it")
      tearDown(ac, reason: .timeout)  // pending commands get NULL replies now, then cleanup
      return
    }
    armCommandTimer(min(nextDeadline, stallDeadline))
  }

  // MARK: Events and hooks

  func handleEvents(_ events: UInt32) {
    guard let ac = context else { return }
    if events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 {
      redisAsyncHandleRead(ac)
    }
    // The read may have freed the context (cleanup fired): never touch it again then.
    guard let ac = context else { return }
    if events & EventMask.writable != 0 || (events & (EventMask.hangUp | EventMask.error) != 0 && watchingWritability) {
      redisAsyncHandleWrite(ac)
    }
  }

  /// hiredis's addRead/delRead/addWrite/delWrite. Once connected, a wish to write is served at
  /// the end of the loop's current batch (all commands the batch queued leave in one write);
  /// EPOLLOUT is only watched while connecting (hiredis learns of the connect through it) or when
  /// the socket buffer is full.
  fileprivate func setInterest(read: Bool? = nil, write: Bool? = nil) {
    if let read { reading = read }
    if let write { writing = write }
    if writing && (state == .handshaking || state == .ready) && !watchingWritability {
      if !flushScheduled {
        flushScheduled = true
        loop.deferUntilEndOfBatch { [weak self] in self?.flushAtEndOfBatch() }
      }
      updateRegistration(watchWrite: false)
      return
    }
    updateRegistration(watchWrite: writing)
  }

  private func flushAtEndOfBatch() {
    flushScheduled = false
    guard writing, let ac = context else { return }
    redisAsyncHandleWrite(ac)
    // Still wanting to write (socket buffer full) and the context alive: wait for EPOLLOUT.
    if writing && context != nil { updateRegistration(watchWrite: true) }
  }

  private func updateRegistration(watchWrite: Bool) {
    guard fd >= 0 else { return }
    watchingWritability = watchWrite
    let events = (reading ? EventMask.readable : 0) | (watchWrite ? EventMask.writable : 0)
    if !registered {
      guard events != 0 else { return }
      do {
        try loop.register(fd: fd, events: events, handler: self)
        registered = true
        registeredEvents = events
      } catch {
        logProblem("cannot watch the redis socket: \(error)")
      }
    } else if events != registeredEvents {
      registeredEvents = events
      loop.modify(fd: fd, events: events)
    }
  }

  /// hiredis is done with the context (it is being freed). Fail what is left, then reconnect.
  fileprivate func contextCleanedUp() {
    if registered { loop.unregister(fd: fd) }
    registered = false
    reading = false
    writing = false
    watchingWritability = false
    registeredEvents = 0
    fd = -1
    context = nil
    if let connectTimer { loop.cancel(connectTimer) }
    connectTimer = nil
    if let commandTimer { loop.cancel(commandTimer) }
    commandTimer = nil
    markDown()
    isStalled = false
    // hiredis has already called every pending callback with NULL; anything left is ours.
    while pendingHead < pending.count { replyArrived(nil, errorText: "connection closed") }
    if state == .closed { return }
    if let target = pendingTarget {
      pendingTarget = nil
      endpoint = target.endpoint
      readOnly = target.readOnly
      state = .waiting
      failedAttempts = 0
      lastLoggedProblem = nil
      // Not from inside hiredis's free: the next loop iteration connects.
      reconnectTimer = loop.schedule(afterNanoseconds: 0) { [weak self] in self?.connect() }
      return
    }
    let reason: String
    switch teardownReason {
    case .connectionLost(let text)?: reason = text
    case .timeout?: reason = "command timeout"
    default: reason = "connection closed"
    }
    state = .waiting
    connectionFailed(reason)
  }

  private func connectionFailed(_ reason: String) {
    guard state != .closed else { return }
    state = .waiting
    failedAttempts += 1
    logProblem(reason)
    router?.connectionFailed()
    let exponent = min(failedAttempts - 1, 20)
    let ceiling = min(configuration.reconnectMaxDelay, configuration.reconnectBaseDelay * Double(1 << exponent))
    let delay = ceiling * Double.random(in: 0.5...1.0)
    reconnectTimer = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: delay)) { [weak self] in
      self?.connect()
    }
  }

  private func logProblem(_ problem: String) {
    // One line per change of problem, not one per attempt: a down Redis must not flood the log.
    guard problem != lastLoggedProblem else { return }
    lastLoggedProblem = problem
    redisLogger.warning(
      "redis connection problem",
      metadata: ["connection": "\(index)", "redis": "\(shownServer)", "problem": "\(problem)"])
  }

  /// Closes for good: pending commands fail with `.closed`.
  func close() {
    if let reconnectTimer { loop.cancel(reconnectTimer) }
    reconnectTimer = nil
    state = .closed
    if let ac = context { tearDown(ac, reason: .closed) }
  }

}

// MARK: C entry points (hiredis calls these with the pointer we stored in ev.data / data)

private func connection(_ pointer: UnsafeMutableRawPointer?) -> RedisConnection? {
  guard let pointer else { return nil }
  return Unmanaged<RedisConnection>.fromOpaque(pointer).takeUnretainedValue()
}

private func redisHookAddRead(_ data: UnsafeMutableRawPointer?) { connection(data)?.setInterest(read: true) }
private func redisHookDelRead(_ data: UnsafeMutableRawPointer?) { connection(data)?.setInterest(read: false) }
private func redisHookAddWrite(_ data: UnsafeMutableRawPointer?) { connection(data)?.setInterest(write: true) }
private func redisHookDelWrite(_ data: UnsafeMutableRawPointer?) { connection(data)?.setInterest(write: false) }
private func redisHookCleanup(_ data: UnsafeMutableRawPointer?) { connection(data)?.contextCleanedUp() }

private func redisConnectCallback(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
  guard let ac, let target = connection(ac.pointee.data) else { return }
  target.connected(status: status, errorText: ac.pointee.errstr.map { String(cString: $0) })
}

private func redisDisconnectCallback(_ ac: UnsafePointer<redisAsyncContext>?, _ status: Int32) {
  // Nothing to do: cleanup (which always runs) handles the loss; the reason was recorded.
}

private func redisReplyCallback(
  _ ac: UnsafeMutablePointer<redisAsyncContext>?, _ reply: UnsafeMutableRawPointer?,
  _ privdata: UnsafeMutableRawPointer?
) {
  guard let ac, let target = connection(ac.pointee.data) else { return }
  let errorText = reply == nil ? ac.pointee.errstr.map { String(cString: $0) } : nil
  target.replyArrived(reply?.assumingMemoryBound(to: redisReply.self), errorText: errorText)
}
