import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One accepted connection, confined to its loop: the socket, its input and output buffers, the
/// timeouts every protocol shares, and closing. What the bytes mean is the session's business
/// (`HTTP1Session`), chosen from the first bytes the client sends.
///
/// Reads are one read(2) per readiness event (level-triggered). The session then consumes the
/// input within a per-pass budget (requests and output bytes); when it had more to do, the rest
/// runs in the loop's next pass, after every other ready connection has had its turn, and the
/// socket is not read meanwhile. Output is written once per pass with writev.
///
/// Memory is bounded three ways: reading pauses while this connection's unsent output is over
/// its bound or (when it has unsent output of its own) the process-wide output is over its
/// bound; a client that takes none of its output for `sendTimeout` seconds is closed; and the
/// input buffer shrinks back whenever it runs empty.
final class ServerConnection: EventHandler {
  let fd: Int32
  // The context owns this connection (and the server its contexts), so it always outlives it:
  // unowned(unsafe) skips the reference-count traffic of a checked unowned on every access.
  unowned(unsafe) let context: ServerLoopContext
  var loop: EventLoop { context.loop }
  var configuration: ServerConfiguration { context.server.configuration }

  var input = InputBuffer()
  var output = OutputQueue()
  private var session: ConnectionSession? = nil

  private var interest: UInt32 = 0
  private(set) var processing = false
  private var continuationScheduled = false
  private var flushScheduled = false
  /// Why the session last stopped: the socket is only read while it waits for input.
  private var waitingFor = ProcessResult.needsInput
  private(set) var peerClosed = false
  private(set) var closed = false
  private var lingering = false
  /// Once the output is written, shut the write side and close (set by the session after the
  /// last response it will send).
  private var closeWhenFlushed = false
  var setIndex = 0
  private var lastActivity: UInt64
  private var lastWriteProgress: UInt64 = 0
  private var lingerDeadline: UInt64 = 0
  /// The unsent bytes this connection has reported to the process-wide budget.
  private var accountedOutput = 0

  init(fd: Int32, context: ServerLoopContext) {
    self.fd = fd
    self.context = context
    lastActivity = context.loop.now
  }

  func start() throws {
    interest = EventMask.readable
    try loop.register(fd: fd, events: interest, handler: self)
  }

  // MARK: Events

  func handleEvents(_ events: UInt32) {
    if closed { return }
    if events & EventMask.writable != 0 { flush() }
    if closed { return }
    if events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 { readable(events) }
  }

  private func readable(_ events: UInt32) {
    if lingering {
      discardInput()
      return
    }
    if peerClosed {
      // Only a hang-up or an error can still arrive (reading is off): both directions are gone.
      if events & (EventMask.hangUp | EventMask.error) != 0 { close() }
      return
    }
    let ceiling = session?.inputCeiling ?? HTTP1Session.ceiling(configuration.limits)
    guard input.makeRoom(ceiling: ceiling) else {
      session?.inputOverflowed()
      updateInterest()
      return
    }
    let count = input.read(from: fd)
    if count > 0 {
      lastActivity = loop.now
      process()
      return
    }
    if count == 0 {
      peerClosed = true
      // A half-close is not an abort: every request already received is still answered.
      session?.inputEnded()
      process()
      return
    }
    let code = errno
    if code == EAGAIN || code == EINTR { return }
    close()
  }

  /// Reads and drops what a client still sends while the connection lingers.
  private func discardInput() {
    var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    let count = withUnsafeMutableBytes(of: &scratch) { Glibc.read(fd, $0.baseAddress, $0.count) }
    if count > 0 { return }
    if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
    close()
  }

  // MARK: Processing

  /// Lets the session consume the input within this pass's budget, then writes.
  func process() {
    if processing || closed { return }
    if session == nil && !chooseSession() { return }
    guard let session else { return }
    processing = true
    let before = session
    var budget = PassBudget(
      requests: configuration.maxRequestsPerPass, outputBytes: configuration.maxOutputBytesPerPass,
      outputAlreadyPending: output.pendingBytes, time: nanoseconds(fromSeconds: configuration.maxPassTime))
    // Called even with no input: a session may hold complete requests from an earlier pass.
    waitingFor = session.process(&budget)
    processing = false
    if closed { return }
    // A protocol switch (Upgrade: h2c) leaves the rest of the input to the new session.
    if waitingFor == .budgetSpent || self.session !== before { scheduleContinuation() }
    flush()
  }

  /// The protocol is known from the first bytes: the HTTP/2 client preface, or HTTP/1.1.
  private func chooseSession() -> Bool {
    if input.isEmpty && !peerClosed { return false }
    var chosen: ConnectionSession? = nil
    if configuration.http2.enabled {
      switch HTTP2Preface.classify(input.readable) {
      case .undecided where !peerClosed: return false  // "PRI * HT": wait for the rest
      case .http2: chosen = HTTP2Session(connection: self, dispatcher: context.server.dispatcher)
      default: break
      }
    }
    session = chosen ?? HTTP1Session(connection: self, dispatcher: context.server.dispatcher)
    if peerClosed { session?.inputEnded() }
    return true
  }

  /// Hands the connection to another protocol (HTTP/1.1 `Upgrade: h2c`); what is left in the
  /// input is the new protocol's.
  func switchSession(to next: ConnectionSession) {
    session = next
    if peerClosed { next.inputEnded() }
  }

  /// Comes back for the rest of the buffered input in the loop's next pass.
  private func scheduleContinuation() {
    guard !continuationScheduled else { return }
    continuationScheduled = true
    loop.deferToNextPass { [self] in
      continuationScheduled = false
      process()
    }
  }

  /// The session put output in (a response that was answered later, from a reply callback):
  /// write it, and take more of the buffered input if that was waiting for room.
  ///
  /// The write waits for the end of the loop's current batch: answers completed by one batch of
  /// Redis replies (an HTTP/2 connection's streams, or pipelined requests) leave in one writev
  /// instead of one each.
  func outputChanged() {
    // Output that was all sent: the wait for the client starts now, not at the last write (a
    // new connection has none; a kept-alive one's may be long ago). Without this, the second's
    // sweep falling between this answer and its flush at the end of the batch took it for a
    // client that had read nothing for `sendTimeout`, and closed it unanswered.
    if accountedOutput == 0 { lastWriteProgress = loop.now }
    if processing || closed || flushScheduled { return }
    flushScheduled = true
    loop.deferUntilEndOfBatch { [self] in
      flushScheduled = false
      flush()
    }
  }

  /// After the output is written, shut the write side and close.
  func closeAfterFlush() {
    closeWhenFlushed = true
  }

  /// Whether the output is over the bound at which this connection takes no more requests.
  var outputIsFull: Bool {
    output.pendingBytes > configuration.maxBufferedOutputBytes
      || (!output.isEmpty && context.server.budget.outputOverBudget)
  }

  // MARK: Writing

  func flush() {
    if closed { return }
    // The protocol may hold more than the output bound lets it hand over at once (HTTP/2 frames
    // in nghttp2): refill after each write that drained, until the socket is full or nothing is
    // left, since a drained socket brings no writable event to come back on.
    for _ in 0..<64 {
      if !processing { session?.fillOutput() }
      if closed { return }
      if output.isEmpty { break }
      let before = output.pendingBytes
      let result = output.write(to: fd)
      // A wait for the client starts when output first goes unsent, and restarts with progress.
      if accountedOutput == 0 || output.pendingBytes < before { lastWriteProgress = loop.now }
      if case .failed = result {
        close()
        return
      }
      if case .blocked = result { break }
    }
    account()
    if output.isEmpty {
      if closeWhenFlushed {
        beginLingeringClose()
        return
      }
      if peerClosed && input.isEmpty && !(session?.hasOutstandingWork ?? false) {
        close()
        return
      }
    }
    if waitingFor == .blocked && !processing && !continuationScheduled && !outputIsFull
      && (session?.wantsInput ?? false)
    {
      // Room again (output written, or an answer made room in the pipeline): the requests that
      // were waiting in the buffer go next pass.
      scheduleContinuation()
    }
    updateInterest()
  }

  /// Unsent response bytes: in the output, and held by the protocol (HTTP/2 flow control).
  private var unsentBytes: Int { output.pendingBytes + (session?.heldOutputBytes ?? 0) }

  /// Reports this connection's change of unsent bytes to the process-wide budget.
  private func account() {
    let pending = unsentBytes
    if pending != accountedOutput {
      context.server.budget.adjustOutput(by: pending - accountedOutput)
      accountedOutput = pending
    }
  }

  private func updateInterest() {
    if closed { return }
    var wanted: UInt32 = 0
    if lingering {
      wanted = EventMask.readable
    } else if !peerClosed && waitingFor == .needsInput && !outputIsFull && (session?.wantsInput ?? true) {
      wanted = EventMask.readable
    }
    if !output.isEmpty { wanted |= EventMask.writable }
    if wanted != interest {
      interest = wanted
      loop.modify(fd: fd, events: wanted)
    }
  }

  // MARK: Timeouts and closing

  /// Called once a second by the loop's sweep with the loop's clock.
  func sweep(now: UInt64) {
    if closed { return }
    if lingering {
      if now >= lingerDeadline { close() }
      return
    }
    if unsentBytes > 0 && now &- lastWriteProgress > nanoseconds(fromSeconds: configuration.sendTimeout) {
      context.server.statistics.record(.sendTimeout)
      close()
      return
    }
    session?.sweep(now: now)
    if closed { return }
    let idle = session?.isIdle ?? true
    if idle && output.isEmpty && input.isEmpty
      && now &- lastActivity > nanoseconds(fromSeconds: configuration.idleTimeout)
    {
      context.server.statistics.record(.idleTimeout)
      close()
    }
  }

  /// Graceful shutdown: idle connections close now, busy ones after their current requests.
  func beginDraining() {
    if closed { return }
    guard let session else {
      close()
      return
    }
    session.beginDraining()
  }

  /// Shuts the write side and waits briefly for the client to close, so that a reset caused by
  /// unread input does not destroy the response in flight.
  private func beginLingeringClose() {
    if peerClosed {
      close()
      return
    }
    lingering = true
    input.reset()
    shutdown(fd, Int32(SHUT_WR))
    lingerDeadline = loop.now &+ nanoseconds(fromSeconds: configuration.lingerTimeout)
    updateInterest()
  }

  func close() {
    if closed { return }
    closed = true
    loop.unregister(fd: fd)
    Glibc.close(fd)
    session?.connectionClosed()
    session = nil  // breaks the session's reference back to this connection
    output = OutputQueue()
    account()  // after both are empty: this connection holds nothing in the budget now
    input.reset()
    context.connectionClosed(self)
  }
}
