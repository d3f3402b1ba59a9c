import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One accepted HTTP/1.1 connection, confined to its loop.
///
/// Reads are one read(2) per readiness event (level-triggered), then every complete request in
/// the buffer is dispatched (pipelining); responses are serialized in request order into one
/// output buffer and written once per batch. Output above a bound, or too many unanswered
/// pipelined requests, pause reading. Errors answer with their status, then the write side is
/// shut and the connection lingers briefly before closing, so the client reads the response.
final class HTTPServerConnection: EventHandler {
  private enum ReadState {
    case head
    case body(remaining: Int)
    case chunked(ChunkedDecoder)
  }

  let fd: Int32
  // The context owns this connection (and the server its contexts), so it always outlives it:
  // unowned(unsafe) skips the reference-count traffic of a checked unowned on every access.
  unowned(unsafe) let context: ServerLoopContext
  private var loop: EventLoop { context.loop }
  private var limits: HTTPLimits { context.server.configuration.limits }

  // Input: a raw buffer, consumed from `inputStart`, filled up to `inputEnd`.
  private var input: UnsafeMutablePointer<UInt8>
  private var inputCapacity: Int
  private var inputStart = 0
  private var inputEnd = 0
  private var readState = ReadState.head
  private var pending: (request: HTTPRequest, keepAlive: Bool)? = nil

  // Output, in request order.
  private var output = OutputQueue()
  private var parked: [UInt64: [UInt8]] = [:]
  private var parkedRequests: [UInt64: (keepAlive: Bool, version: HTTPVersion, isHead: Bool)] = [:]
  private var requestInfo: [(keepAlive: Bool, version: HTTPVersion, isHead: Bool)] = []
  private var nextSequence: UInt64 = 0
  private var nextToWrite: UInt64 = 0
  /// After writing the response with this sequence number, close.
  private var closeAfter: UInt64? = nil

  // Lifecycle.
  private var interest: UInt32 = 0
  private var processing = false
  private var stopParsing = false
  private var peerClosed = false
  private(set) var closed = false
  private var lingering = false
  private(set) var draining = false
  var setIndex = 0
  private(set) var lastActivity: UInt64
  private var headStartedAt: UInt64 = 0
  private var lingerDeadline: UInt64 = 0

  init(fd: Int32, context: ServerLoopContext) {
    self.fd = fd
    self.context = context
    inputCapacity = 4096
    input = .allocate(capacity: inputCapacity)
    lastActivity = context.loop.now
  }

  deinit {
    input.deallocate()
  }

  func start() throws {
    interest = EventMask.readable
    try loop.register(fd: fd, events: interest, handler: self)
  }

  private var inFlight: Int { Int(nextSequence &- nextToWrite) }
  private var hasUnsentOutput: Bool { !output.isEmpty }
  private var isIdle: Bool { inFlight == 0 && !hasUnsentOutput && inputStart == inputEnd && pending == nil }

  // MARK: Events

  func handleEvents(_ events: UInt32) {
    if closed { return }
    if events & EventMask.writable != 0 { flush() }
    if closed { return }
    if events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 { readAndProcess() }
  }

  private func readAndProcess() {
    if inputEnd == inputCapacity && !makeRoom() { return }
    let count = read(fd, input + inputEnd, inputCapacity - inputEnd)
    if count > 0 {
      lastActivity = loop.now
      if lingering {  // discard: the response is out, we only wait for the client to finish
        return
      }
      inputEnd += count
      process()
      flush()
      return
    }
    if count == 0 {
      peerClosed = true
      // A partial request can never complete now. Requests already dispatched are still
      // answered (the client may only have half-closed), then the connection closes.
      if lingering || inFlight == 0 {
        close()
      } else {
        stopAndFinish()
      }
      return
    }
    let code = errno
    if code == EAGAIN || code == EINTR { return }
    close()
  }

  /// Stops reading and closes once every dispatched request (at least one) has been answered.
  private func stopAndFinish() {
    stopParsing = true
    pending = nil
    closeAfter = nextSequence &- 1
    updateInterest()
  }

  /// Compacts or grows the input buffer. Returns false (after failing the request) when the
  /// buffer already holds more than any valid request head could need.
  private func makeRoom() -> Bool {
    if inputStart > 0 {
      let live = inputEnd - inputStart
      if live > 0 { (input).update(from: input + inputStart, count: live) }
      inputStart = 0
      inputEnd = live
      return true
    }
    let ceiling = limits.maxRequestLineBytes + limits.maxHeaderBytes + 4096
    guard inputCapacity < ceiling else {
      fail(HTTPParseError(.requestHeaderFieldsTooLarge, "request head too large"))
      return false
    }
    let newCapacity = min(inputCapacity * 2, ceiling)
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    grown.update(from: input, count: inputEnd)
    input.deallocate()
    input = grown
    inputCapacity = newCapacity
    return true
  }

  // MARK: Parsing and dispatch

  private func process() {
    processing = true
    defer { processing = false }
    let configuration = context.server.configuration
    while !stopParsing && !closed {
      if inFlight >= configuration.maxPipelinedRequests { break }
      let available = inputEnd - inputStart
      switch readState {
      case .head:
        guard available > 0 else { break }
        let bytes = UnsafeRawBufferPointer(start: input + inputStart, count: available)
        switch RequestHeadParser.parse(bytes, limits: limits) {
        case .incomplete:
          if headStartedAt == 0 { headStartedAt = loop.now }
          compactIfEmpty()
          return
        case .failure(let error):
          fail(error)
          return
        case .complete(let head):
          headStartedAt = 0
          let request = makeRequest(head, bytes)
          inputStart += head.length
          switch head.framing {
          case .none:
            dispatch(request, keepAlive: head.keepAlive)
          case .length(let length):
            pending = (request, head.keepAlive)
            pending?.request.body.reserveCapacity(length)
            readState = .body(remaining: length)
            if head.expectContinue && inputEnd - inputStart < length { sendContinue() }
          case .chunked:
            pending = (request, head.keepAlive)
            readState = .chunked(ChunkedDecoder(limits: limits))
            if head.expectContinue { sendContinue() }
          }
        }
      case .body(let remaining):
        let take = min(remaining, available)
        if take > 0 {
          pending?.request.body.append(contentsOf: UnsafeBufferPointer(start: input + inputStart, count: take))
          inputStart += take
        }
        if remaining - take > 0 {
          readState = .body(remaining: remaining - take)
          compactIfEmpty()
          return
        }
        readState = .head
        finishPending()
      case .chunked(var decoder):
        guard available > 0 else {
          compactIfEmpty()
          return
        }
        let bytes = UnsafeRawBufferPointer(start: input + inputStart, count: available)
        var body = pending?.request.body ?? []
        pending?.request.body = []
        let outcome = decoder.decode(bytes, into: &body)
        pending?.request.body = body
        switch outcome {
        case .needMore:
          inputStart = inputEnd
          readState = .chunked(decoder)
          compactIfEmpty()
          return
        case .done(let consumed):
          inputStart += consumed
          readState = .head
          finishPending()
        case .failure(let error):
          fail(error)
          return
        }
      }
      if inputStart == inputEnd {
        compactIfEmpty()
        if case .head = readState { return }
      }
    }
  }

  private func compactIfEmpty() {
    if inputStart == inputEnd {
      inputStart = 0
      inputEnd = 0
    }
  }

  private func finishPending() {
    guard let (request, keepAlive) = pending else { return }
    pending = nil
    dispatch(request, keepAlive: keepAlive)
  }

  private func makeRequest(_ head: ParsedHead, _ bytes: UnsafeRawBufferPointer) -> HTTPRequest {
    func text(_ range: ParsedHead.Range) -> String {
      String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range.start..<range.end]), as: UTF8.self)
    }
    var headers = HTTPHeaders()
    headers.fields.reserveCapacity(head.names.count)
    for index in 0..<head.names.count {
      headers.fields.append((name: text(head.names[index]), value: text(head.values[index])))
    }
    return HTTPRequest(
      method: HTTPMethod(text(head.method)), target: text(head.target), version: head.version, headers: headers)
  }

  private func sendContinue() {
    // An interim response may only go out when nothing earlier is still unanswered.
    guard inFlight == 0 else { return }
    output.appendInPlace { $0.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8) }
    if !processing { flush() }
  }

  private func dispatch(_ request: HTTPRequest, keepAlive: Bool) {
    var request = request
    let sequence = nextSequence
    nextSequence &+= 1
    requestInfo.append((keepAlive, request.version, request.method == .head))
    if !keepAlive || draining {
      stopParsing = true
      closeAfter = sequence
    }
    switch context.server.router.match(request.method, target: request.target) {
    case .found(let handler, _, let parameters):
      request.parameters = parameters
      handler(request, HTTPResponder(eventLoop: loop, connection: self, sequence: sequence))
    case .methodNotAllowed(let allowed):
      var response = HTTPResponse.error(
        .methodNotAllowed, code: "method_not_allowed", message: "\(request.method) is not allowed here")
      response.headers.add(name: "Allow", value: allowed.map(\.description).joined(separator: ", "))
      complete(sequence, response)
    case .notFound:
      complete(sequence, .error(.notFound, code: "not_found", message: "no route for \(request.path)"))
    case .badPath(let reason):
      complete(sequence, .error(.badRequest, code: "bad_request", message: reason))
    }
  }

  /// Answers a request that could not be parsed, then closes.
  private func fail(_ error: HTTPParseError) {
    context.server.statistics.record(error.status.code == 408 ? .headerTimeout : .parseError)
    stopParsing = true
    pending = nil
    let sequence = nextSequence
    nextSequence &+= 1
    requestInfo.append((false, .http1_1, false))
    closeAfter = sequence
    complete(sequence, .error(error.status, code: errorCode(error.status), message: error.reason))
  }

  private func errorCode(_ status: HTTPStatus) -> String {
    switch status.code {
    case 408: "request_timeout"
    case 413: "content_too_large"
    case 414: "uri_too_long"
    case 417: "expectation_failed"
    case 431: "header_fields_too_large"
    case 501: "not_implemented"
    case 505: "http_version_not_supported"
    default: "bad_request"
    }
  }

  // MARK: Responses

  /// Serializes the response for request `sequence`, in order, and writes when not in a batch.
  func complete(_ sequence: UInt64, _ response: HTTPResponse) {
    if closed { return }
    let info = requestInfo[Int(sequence &- nextToWrite)]
    let keepAlive = info.keepAlive && closeAfter.map { sequence < $0 } ?? info.keepAlive
    if sequence == nextToWrite {
      ResponseSerializer.append(
        response, to: &output, keepAlive: keepAlive, version: info.version, omitBody: info.isHead, date: context.date)
      advance()
      while let bytes = parked.removeValue(forKey: nextToWrite) {
        output.append(bytes)
        advance()
      }
    } else {
      // Out of order (an earlier request is still being answered): park a copy until its turn.
      var bytes: [UInt8] = []
      ResponseSerializer.append(
        response, to: &bytes, keepAlive: keepAlive, version: info.version, omitBody: info.isHead, date: context.date)
      parked[sequence] = bytes
    }
    if !processing {
      flush()
      // Answers may have made room for more pipelined requests already buffered.
      if !closed && !stopParsing && inputStart != inputEnd {
        process()
        flush()
      }
    }
  }

  private func advance() {
    requestInfo.removeFirst()
    nextToWrite &+= 1
  }

  private func flush() {
    switch output.write(to: fd) {
    case .failed:
      close()
      return
    case .blocked:
      break
    case .drained:
      if let closeAfter, nextToWrite > closeAfter {
        beginLingeringClose()
        return
      }
    }
    updateInterest()
  }

  private func updateInterest() {
    if closed { return }
    let configuration = context.server.configuration
    var wanted: UInt32 = 0
    let backpressure = output.pendingBytes > configuration.maxBufferedOutputBytes
    let pipelineFull = inFlight >= configuration.maxPipelinedRequests
    if lingering || (!peerClosed && !stopParsing && !backpressure && !pipelineFull) {
      wanted |= EventMask.readable
    }
    if hasUnsentOutput { wanted |= EventMask.writable }
    if wanted != interest {
      interest = wanted
      loop.modify(fd: fd, events: wanted)
    }
  }

  // MARK: Closing

  /// Shuts the write side and waits briefly for the client to close, so that a reset caused by
  /// unread input does not destroy the response in flight.
  private func beginLingeringClose() {
    if peerClosed {
      close()
      return
    }
    lingering = true
    shutdown(fd, Int32(SHUT_WR))
    lingerDeadline = loop.now &+ ServerConfiguration.nanoseconds(context.server.configuration.lingerTimeout)
    updateInterest()
  }

  /// Graceful shutdown: idle connections close now, busy ones after their current request.
  func beginDraining() {
    if closed || draining { return }
    draining = true
    if isIdle {
      close()
    } else if inFlight > 0 && pending == nil && inputStart == inputEnd {
      stopParsing = true
      closeAfter = nextSequence &- 1
      updateInterest()
    }
  }

  /// Called once a second by the loop's sweep with the loop's clock.
  func sweep(now: UInt64) {
    if closed { return }
    let configuration = context.server.configuration
    if lingering {
      if now >= lingerDeadline { close() }
      return
    }
    let headTimeout = ServerConfiguration.nanoseconds(configuration.headerReadTimeout)
    if headStartedAt != 0 && now &- headStartedAt > headTimeout {
      fail(HTTPParseError(.requestTimeout, "request head not received within \(configuration.headerReadTimeout) s"))
      return
    }
    if pending != nil && now &- lastActivity > headTimeout {
      fail(HTTPParseError(.requestTimeout, "request body stalled for \(configuration.headerReadTimeout) s"))
      return
    }
    if isIdle && now &- lastActivity > ServerConfiguration.nanoseconds(configuration.idleTimeout) {
      context.server.statistics.record(.idleTimeout)
      close()
    }
  }

  func close() {
    if closed { return }
    closed = true
    loop.unregister(fd: fd)
    Glibc.close(fd)
    parked.removeAll()
    output = OutputQueue()
    context.connectionClosed(self)
  }
}
