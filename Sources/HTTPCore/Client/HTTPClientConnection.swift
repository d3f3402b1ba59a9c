import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One keep-alive HTTP/1.1 client connection on an `EventLoop`, with optional pipelining and
/// per-request timeouts. All methods and callbacks run on the loop's thread.
///
/// A timed-out request closes the connection (and fails everything queued on it): with
/// pipelining there is no way to skip a late response and stay in sync.
public final class HTTPClientConnection: EventHandler {
  /// What to do when a request completes.
  public typealias Completion = (Result<HTTPClientResponse, HTTPClientError>) -> Void

  private struct Outstanding {
    var isHead: Bool
    var deadline: UInt64
    var completion: Completion
  }

  public let loop: EventLoop
  /// The `Host` header value requests carry by default.
  public let host: String
  private let fd: Int32
  private var connecting = true
  private var connectCompletion: ((Result<HTTPClientConnection, HTTPClientError>) -> Void)?
  private var connectTimer: TimerID?
  private var output: [UInt8] = []
  private var outputSent = 0
  /// Bytes of a response that arrived split across reads.
  private var input: [UInt8] = []
  /// Each read lands here (kept for the connection's life: a temporary allocation of this size
  /// is a malloc and free per read).
  private var readBuffer = [UInt8](repeating: 0, count: 16384)
  private var parser = ResponseParser(limits: HTTPLimits())
  private var outstanding: [Outstanding] = []
  private var outstandingHead = 0
  private var timeoutTimer: TimerID?
  private var timerDeadline: UInt64 = 0
  private var interest: UInt32 = 0
  /// Whether the connection is open (connected and not closed).
  public private(set) var isOpen = false
  private var closed = false

  /// False: responses carry their status and body length only (no reason, headers or body
  /// bytes), for load generation, where copying them is most of the client's cost.
  public var keepsResponseFields: Bool {
    get { parser.keepsFields }
    set { parser.keepsFields = newValue }
  }

  /// Requests sent and not yet answered.
  public var inFlight: Int { outstanding.count - outstandingHead }

  private init(loop: EventLoop, host: String, fd: Int32) {
    self.loop = loop
    self.host = host
    self.fd = fd
  }

  /// Opens a connection to a numeric `host` and `port`; `completion` runs on `loop`.
  public static func connect(
    loop: EventLoop, host: String, port: Int, timeout: Double = 5,
    completion: @escaping (Result<HTTPClientConnection, HTTPClientError>) -> Void
  ) {
    let fd: Int32
    do {
      fd = try Socket.startConnect(to: SocketAddress(host: host, port: port))
    } catch let error as SystemError {
      completion(.failure(.connectFailed(error)))
      return
    } catch {
      completion(.failure(.connectFailed(SystemError("connect", code: EINVAL))))
      return
    }
    let connection = HTTPClientConnection(loop: loop, host: port == 80 ? host : "\(host):\(port)", fd: fd)
    connection.connectCompletion = completion
    connection.interest = EventMask.writable
    do {
      try loop.register(fd: fd, events: EventMask.writable, handler: connection)
    } catch {
      Glibc.close(fd)
      completion(.failure(.connectFailed(error as? SystemError ?? SystemError("epoll_ctl", code: EINVAL))))
      return
    }
    connection.connectTimer = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: timeout)) {
      [weak connection] in
      guard let connection, connection.connecting else { return }
      connection.finishConnect(.failure(.connectTimeout))
    }
  }

  private func finishConnect(_ result: Result<Void, HTTPClientError>) {
    connecting = false
    if let connectTimer { loop.cancel(connectTimer) }
    connectTimer = nil
    let completion = connectCompletion
    connectCompletion = nil
    switch result {
    case .success:
      isOpen = true
      updateInterest()
      completion?(.success(self))
    case .failure(let error):
      teardown(failing: error)
      completion?(.failure(error))
    }
  }

  /// Sends a request; with requests already in flight it is pipelined behind them.
  public func send(_ request: HTTPClientRequest, timeout: Double = 10, completion: @escaping Completion) {
    if let invalidity = request.invalidity { return completion(.failure(.invalidRequest(invalidity))) }
    send(
      encoded: request.encoded(host: host), isHead: request.method == .head, timeout: timeout, completion: completion)
  }

  /// Sends pre-encoded request bytes (see `HTTPClientRequest.encoded(host:)`).
  public func send(encoded: [UInt8], isHead: Bool = false, timeout: Double = 10, completion: @escaping Completion) {
    guard isOpen else {
      completion(.failure(closed ? .connectionClosed : .cancelled))
      return
    }
    let deadline = loop.now &+ nanoseconds(fromSeconds: timeout)
    outstanding.append(Outstanding(isHead: isHead, deadline: deadline, completion: completion))
    output.append(contentsOf: encoded)
    armTimeout(deadline)
    flush()
  }

  /// Closes the connection; requests still in flight fail with `.cancelled`.
  public func close() {
    teardown(failing: .cancelled)
  }

  // MARK: Events

  public func handleEvents(_ events: UInt32) {
    if closed { return }
    if connecting {
      finishConnect(HTTPClientError.connectOutcome(fd: fd, events: events).map { .failure($0) } ?? .success(()))
      return
    }
    if events & EventMask.writable != 0 { flush() }
    if closed { return }
    if events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 { readResponses() }
  }

  private func readResponses() {
    let count = readBuffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
    if count == 0 {
      if let response = parser.finishAtClose(), outstandingHead < outstanding.count {
        let request = outstanding[outstandingHead]
        outstandingHead += 1
        request.completion(.success(response))
      }
      teardown(failing: .connectionClosed)
      return
    }
    if count < 0 {
      if errno == EAGAIN || errno == EINTR { return }
      teardown(failing: .connectionClosed)
      return
    }
    // Whole responses (the usual case) are parsed straight from the read buffer; only bytes
    // left over from an earlier read (a response split across reads) go through `input`.
    let fromInput = !input.isEmpty
    if fromInput { input.append(contentsOf: readBuffer[0..<count]) }
    let available = fromInput ? input.count : count
    var consumed = 0
    while consumed < available, outstandingHead < outstanding.count, !closed {
      let isHead = outstanding[outstandingHead].isHead
      let start = consumed
      let outcome =
        fromInput
        ? input.withUnsafeBytes {
          parser.parse(UnsafeRawBufferPointer(rebasing: $0[start..<available]), isHead: isHead)
        }
        : readBuffer.withUnsafeBytes {
          parser.parse(UnsafeRawBufferPointer(rebasing: $0[start..<available]), isHead: isHead)
        }
      switch outcome {
      case .needMore(let used):
        keepUnparsed(from: consumed + used, to: available, fromInput: fromInput)
        return
      case .response(let response, let used):
        consumed += used
        let request = outstanding[outstandingHead]
        outstandingHead += 1
        if outstandingHead == outstanding.count {
          outstanding.removeAll(keepingCapacity: true)
          outstandingHead = 0
        }
        request.completion(.success(response))
      case .failure(let reason):
        teardown(failing: .malformedResponse(reason))
        return
      }
    }
    if !closed && consumed < available && outstandingHead == outstanding.count {
      // Bytes nobody asked for: the peer is not speaking HTTP to us (or is out of step).
      teardown(failing: .malformedResponse("\(available - consumed) bytes arrived with no request outstanding"))
      return
    }
    if !closed {
      keepUnparsed(from: consumed, to: available, fromInput: fromInput)
      if outstandingHead < outstanding.count {
        armTimeout(outstanding[outstandingHead].deadline)
      }
    }
  }

  /// Keeps the bytes from `offset` on (the start of a response not complete yet) in `input`.
  private func keepUnparsed(from offset: Int, to available: Int, fromInput: Bool) {
    if fromInput {
      if offset == input.count { input.removeAll(keepingCapacity: true) } else { input.removeFirst(offset) }
    } else if offset < available {
      input.append(contentsOf: readBuffer[offset..<available])
    }
  }

  private func flush() {
    while outputSent < output.count {
      let count = output.withUnsafeBytes { raw in
        Glibc.send(fd, raw.baseAddress! + outputSent, raw.count - outputSent, Int32(MSG_NOSIGNAL))
      }
      if count > 0 {
        outputSent += count
        continue
      }
      if errno == EINTR { continue }
      if errno == EAGAIN { break }
      teardown(failing: .connectionClosed)
      return
    }
    if outputSent == output.count {
      output.removeAll(keepingCapacity: true)
      outputSent = 0
    }
    updateInterest()
  }

  private func updateInterest() {
    guard isOpen else { return }
    var wanted = EventMask.readable
    if outputSent < output.count { wanted |= EventMask.writable }
    if wanted != interest {
      interest = wanted
      loop.modify(fd: fd, events: wanted)
    }
  }

  // MARK: Timeouts

  /// Keeps one timer armed at the earliest outstanding deadline (deadlines grow in send order).
  private func armTimeout(_ deadline: UInt64) {
    if timeoutTimer != nil && timerDeadline <= deadline && timerDeadline != 0 { return }
    if let timeoutTimer { loop.cancel(timeoutTimer) }
    timerDeadline = deadline
    timeoutTimer = loop.schedule(atDeadline: deadline) { [weak self] in
      guard let self else { return }
      self.timeoutTimer = nil
      self.timerDeadline = 0
      guard self.outstandingHead < self.outstanding.count else { return }
      let oldest = self.outstanding[self.outstandingHead].deadline
      if oldest <= monotonicNanoseconds() {
        self.teardown(failing: .timeout)
      } else {
        self.armTimeout(oldest)
      }
    }
  }

  private func teardown(failing error: HTTPClientError) {
    if closed { return }
    closed = true
    isOpen = false
    if let timeoutTimer { loop.cancel(timeoutTimer) }
    timeoutTimer = nil
    if let connectTimer { loop.cancel(connectTimer) }
    connectTimer = nil
    loop.unregister(fd: fd)
    Glibc.close(fd)
    let failed = outstanding[outstandingHead...]
    outstanding = []
    outstandingHead = 0
    for request in failed { request.completion(.failure(error)) }
  }
}
