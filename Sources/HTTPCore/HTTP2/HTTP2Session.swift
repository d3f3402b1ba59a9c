import CNghttp2
import Reactor

/// HTTP/2 on one connection, through libnghttp2 1.52 driven by our loop: the bytes the connection
/// read go to `nghttp2_session_mem_recv`; what nghttp2 wants to send is drained with
/// `nghttp2_session_mem_send` into the connection's output, up to its bound. Requests are
/// dispatched (within the per-pass budget) after mem_recv returns, never from inside nghttp2;
/// responses are submitted whenever their handler answers (a Redis reply later), in any order.
///
/// The limits nghttp2 1.52 does not enforce are enforced here: the header list size (counted
/// per field in `onHeader`: a 7 KB HPACK block can decode to 12 MB), the header count, the body
/// size and the process-wide body budget, and the work in flight per connection (a stream the
/// client resets stays counted until its handler has answered, so rapid resets cannot pile up
/// backend work). Abuse ends the connection with GOAWAY and the matching error code.
final class HTTP2Session: ConnectionSession, ResponseSink {
  /// Held strongly, as in `HTTP1Session`: responders outliving the connection keep it.
  let connection: ServerConnection
  let dispatcher: RequestDispatcher
  private var session: OpaquePointer?
  private var streams: [Int32: HTTP2Stream] = [:]
  /// Complete requests waiting for their turn (the per-pass budget).
  private var ready: [HTTP2Stream] = []
  private var readyHead = 0
  /// Requests dispatched and not yet answered, including those of streams since reset.
  private var inFlight = 0
  /// Streams open whose request is still arriving (not yet dispatched).
  private var receiving = 0
  /// True while nghttp2 is running (mem_recv or mem_send): nothing may re-enter it.
  private var insideNghttp2 = false
  private var ended = false
  private var draining = false
  private var misbehaviour = 0
  /// Response bytes submitted and not yet taken by nghttp2 (they count as unsent output).
  private(set) var heldOutputBytes = 0
  /// After `Upgrade: h2c`, stream 1 waits for the client's preface and SETTINGS: answering into
  /// the gap between the 101 and the preface overflows some clients' upgrade buffers (curl).
  private var awaitingClientSettings = false

  private var configuration: ServerConfiguration { connection.configuration }
  private var statistics: ServerStatistics { connection.context.server.statistics }
  private var budget: MemoryBudget { connection.context.server.budget }

  /// A session for a connection that opened with the client preface (still in the input).
  init(connection: ServerConnection, dispatcher: RequestDispatcher) {
    self.connection = connection
    self.dispatcher = dispatcher
    session = makeSession()
  }

  deinit {
    if let session { nghttp2_session_del(session) }
  }

  private func makeSession() -> OpaquePointer? {
    let limits = configuration.http2
    var callbacks: OpaquePointer? = nil
    nghttp2_session_callbacks_new(&callbacks)
    defer { nghttp2_session_callbacks_del(callbacks) }
    HTTP2Callbacks.install(on: callbacks)
    var options: OpaquePointer? = nil
    nghttp2_option_new(&options)
    defer { nghttp2_option_del(options) }
    nghttp2_option_set_max_outbound_ack(options, limits.maxOutboundAcks)
    nghttp2_option_set_max_settings(options, 32)
    nghttp2_option_set_stream_reset_rate_limit(
      options, UInt64(limits.streamResetBurst), UInt64(limits.streamResetsPerSecond))
    nghttp2_option_set_max_continuations(options, limits.maxContinuations)
    var created: OpaquePointer? = nil
    guard
      nghttp2_session_server_new2(&created, callbacks, Unmanaged.passUnretained(self).toOpaque(), options) == 0
    else { return nil }
    var settings = [
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
        value: UInt32(clamping: limits.maxConcurrentStreams)),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
        value: UInt32(clamping: configuration.limits.maxHeaderBytes)),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
        value: UInt32(clamping: limits.initialWindowBytes)),
      nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
    ]
    nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    return created
  }

  /// Takes over a connection whose HTTP/1.1 request asked for `Upgrade: h2c`: the request becomes
  /// stream 1 (answered over HTTP/2) and the client's preface follows in the input.
  func upgrade(from request: HTTPRequest, settings: [UInt8]) -> Bool {
    guard let session else { return false }
    let rv = settings.withUnsafeBufferPointer { payload in
      nghttp2_session_upgrade2(session, payload.baseAddress, payload.count, request.method == .head ? 1 : 0, nil)
    }
    guard rv == 0 else { return false }
    let stream = HTTP2Stream(id: 1, startedAt: connection.loop.now)
    stream.method = request.method.description
    stream.path = request.target
    stream.headers = request.headers
    stream.body = request.body
    streams[1] = stream
    statistics.streamOpened()
    receiving += 1
    awaitingClientSettings = true
    ready.append(stream)
    pump()
    return true
  }

  // MARK: ConnectionSession

  /// nghttp2 consumes every byte it is given, so the buffer never holds more than one read.
  var inputCeiling: Int { 16 * 1024 }

  /// Not while complete requests wait for their turn (except the upgraded one, which waits for
  /// the client's preface: that must be read).
  var wantsInput: Bool { session != nil && (readyHead == ready.count || awaitingClientSettings) }

  /// Handlers still owing answers, or answers not yet handed to nghttp2. (Frames nghttp2 merely
  /// wants to send go out with the next write, or never, if the peer is gone.)
  var hasOutstandingWork: Bool { session != nil && (inFlight > 0 || heldOutputBytes > 0) }

  var isIdle: Bool { streams.isEmpty && inFlight == 0 }

  func process(_ passBudget: inout PassBudget) -> ProcessResult {
    guard let session else { return .blocked }
    if let blocked = dispatchReady(&passBudget) { return blocked }
    let input = connection.input.readable
    insideNghttp2 = true
    let consumed = nghttp2_session_mem_recv(
      session, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count)
    insideNghttp2 = false
    guard self.session != nil else { return .blocked }  // a callback ended the connection
    guard consumed >= 0 else {
      // A protocol violation nghttp2 cannot recover from (bad preface, flood, too many
      // CONTINUATIONs): send what it queued (a GOAWAY, if any), then close.
      fail(reason: Int32(consumed))
      return .blocked
    }
    connection.input.consume(consumed)
    if let blocked = dispatchReady(&passBudget) { return blocked }
    pump()
    return .needsInput
  }

  /// Dispatches complete requests while the budget lasts; nil when all went.
  private func dispatchReady(_ passBudget: inout PassBudget) -> ProcessResult? {
    if awaitingClientSettings { return nil }
    while readyHead < ready.count {
      if connection.closed { return .blocked }
      guard passBudget.allowsAnother(outputPending: connection.output.pendingBytes) else { return .budgetSpent }
      passBudget.requestsLeft -= 1
      let stream = ready[readyHead]
      readyHead += 1
      if streams[stream.id] === stream { dispatch(stream, request: request(for: stream)) }
    }
    ready.removeAll(keepingCapacity: true)
    readyHead = 0
    return nil
  }

  func inputOverflowed() {
    // Cannot happen: nghttp2 consumes all input. Treat as an internal error all the same.
    terminate(NGHTTP2_INTERNAL_ERROR)
  }

  func inputEnded() {
    ended = true
  }

  func sweep(now: UInt64) {
    guard session != nil else { return }
    let deadline = nanoseconds(fromSeconds: configuration.bodyReadTimeout)
    var expired: [Int32] = []
    for (id, stream) in streams where !stream.dispatched && !stream.refused && now &- stream.startedAt > deadline {
      expired.append(id)
    }
    guard !expired.isEmpty else { return }
    for id in expired {
      statistics.record(.bodyTimeout)
      reset(id, NGHTTP2_CANCEL)
    }
    pump()
  }

  func beginDraining() {
    guard let session, !draining else { return }
    draining = true
    // The last stream we took: the client may retry anything newer elsewhere.
    nghttp2_submit_goaway(
      session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
      NGHTTP2_NO_ERROR.rawValue, nil, 0)
    statistics.record(.http2GoawayNoError)
    pump()
  }

  func connectionClosed() {
    for stream in streams.values {
      releaseBody(stream)
      statistics.streamClosed()
    }
    streams.removeAll()
    ready.removeAll()
    readyHead = 0
    heldOutputBytes = 0
    if let session { nghttp2_session_del(session) }
    session = nil
  }

  /// Moves what nghttp2 wants to send into the connection's output, up to its bound.
  func fillOutput() {
    pump(flush: false)
  }

  // MARK: Output

  /// Drains nghttp2's frames into the output while it has room, then lets the connection write
  /// (unless this runs inside the connection's own processing, which writes afterwards).
  private func pump(flush: Bool = true) {
    guard let session, !insideNghttp2 else { return }
    insideNghttp2 = true
    let limit = configuration.maxBufferedOutputBytes
    while connection.output.pendingBytes < limit {
      var data: UnsafePointer<UInt8>? = nil
      let count = nghttp2_session_mem_send(session, &data)
      if count <= 0 {
        if count < 0 { insideNghttp2 = false; fail(reason: Int32(count)); return }
        break
      }
      let chunk = UnsafeRawBufferPointer(start: data, count: count)
      connection.output.appendInPlace { $0.append(contentsOf: chunk) }
    }
    insideNghttp2 = false
    // Close once written when nothing more will come or go: nghttp2 is done with both sides (or
    // we are draining and every stream has ended), and no handler still owes an answer.
    let done =
      nghttp2_session_want_write(session) == 0 && inFlight == 0 && heldOutputBytes == 0
      && (nghttp2_session_want_read(session) == 0 || (draining && streams.isEmpty))
    if done { connection.closeAfterFlush() }
    if flush { connection.outputChanged() }
  }

  /// Ends the connection: GOAWAY with `code`, written before the close.
  private func terminate(_ code: nghttp2_error_code) {
    guard let session else { return }
    nghttp2_session_terminate_session(session, code.rawValue)
    switch code {
    case NGHTTP2_PROTOCOL_ERROR: statistics.record(.http2GoawayProtocolError)
    case NGHTTP2_ENHANCE_YOUR_CALM: statistics.record(.http2GoawayEnhanceYourCalm)
    default: statistics.record(.http2GoawayOther)
    }
  }

  private func fail(reason: Int32) {
    // Some fatal errors leave no GOAWAY queued (too many CONTINUATIONs, a bad preface): queue one
    // with the code that says why, so the client learns it was cut off on purpose.
    let abuse = reason == NGHTTP2_ERR_FLOODED.rawValue || reason == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue
    if let session {
      nghttp2_session_terminate_session(
        session, abuse ? NGHTTP2_ENHANCE_YOUR_CALM.rawValue : NGHTTP2_PROTOCOL_ERROR.rawValue)
    }
    statistics.record(abuse ? .http2GoawayEnhanceYourCalm : .http2GoawayProtocolError)
    statistics.record(.parseError)
    pump(flush: false)
    connection.closeAfterFlush()
    connection.outputChanged()
    connectionClosedEarly()
  }

  /// Stops taking anything from the client; the connection closes once the output is written.
  private func connectionClosedEarly() {
    for stream in streams.values {
      releaseBody(stream)
      statistics.streamClosed()
    }
    streams.removeAll()
    ready.removeAll()
    readyHead = 0
    if let session { nghttp2_session_del(session) }
    session = nil
  }

  private func reset(_ id: Int32, _ code: nghttp2_error_code) {
    guard let session else { return }
    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, code.rawValue)
    if let stream = streams[id] { stream.refused = true }
  }

  /// Counts a client's misbehaviour (refused streams, limits hit); too much ends the connection.
  private func misbehaved() {
    misbehaviour += 1
    if misbehaviour > configuration.http2.maxMisbehaviour { terminate(NGHTTP2_ENHANCE_YOUR_CALM) }
  }

  // MARK: Requests

  private func request(for stream: HTTP2Stream) -> HTTPRequest {
    var headers = stream.headers
    if !stream.authority.isEmpty && !headers.contains("host") { headers.add(name: "host", value: stream.authority) }
    return HTTPRequest(
      method: HTTPMethod(stream.method), target: stream.path, version: .http2, headers: headers, body: stream.body)
  }

  private func dispatch(_ stream: HTTP2Stream, request: HTTPRequest) {
    receiving -= 1
    stream.dispatched = true
    releaseBody(stream)
    stream.body = []
    inFlight += 1
    statistics.recordRequest(protocol: .http2, loop: connection.loop.index)
    dispatcher.dispatch(
      request, HTTPResponder(eventLoop: connection.loop, sink: self, token: UInt64(UInt32(stream.id))))
  }

  private func releaseBody(_ stream: HTTP2Stream) {
    budget.releaseBody(stream.reservedBodyBytes)
    stream.reservedBodyBytes = 0
  }

  // MARK: ResponseSink

  func deliver(_ response: HTTPResponse, token: UInt64) {
    inFlight -= 1
    let id = Int32(truncatingIfNeeded: token)
    guard let session, let stream = streams[id], !stream.responding else {
      // The stream was reset (or the connection ended) while its handler worked; a draining
      // connection may be able to close now.
      if session != nil { pump() }
      return
    }
    submit(response, on: stream, session: session)
    pump()
  }

  func record(_ event: ServerStatistics.Event) {
    statistics.record(event)
  }

  /// Submits `response` on `stream`: HEADERS, then the body through a data provider.
  private func submit(_ response: HTTPResponse, on stream: HTTP2Stream, session: OpaquePointer) {
    let isHead = stream.method == "HEAD"
    let sendsBody = ResponseSerializer.hasBody(response.status) && !isHead && !response.body.isEmpty
    var fields = HTTP2HeaderBlock()
    fields.add(":status", String(response.status.code))
    for field in response.headers.fields where !HTTP2HeaderBlock.isConnectionSpecific(field.name) {
      fields.add(field.name, field.value)
    }
    if ResponseSerializer.hasBody(response.status) { fields.add("content-length", String(response.body.count)) }
    fields.add("date", connection.context.date.value)
    stream.responding = true
    if sendsBody {
      stream.responseBody = response.body
      stream.responseOffset = 0
      heldOutputBytes += response.body.count
    }
    let rv = fields.withNameValues { nva, count -> Int32 in
      if sendsBody {
        var provider = nghttp2_data_provider(
          source: nghttp2_data_source(ptr: nil), read_callback: HTTP2Callbacks.readResponseBody)
        return nghttp2_submit_response(session, stream.id, nva, count, &provider)
      }
      return nghttp2_submit_response(session, stream.id, nva, count, nil)
    }
    if rv != 0 {
      heldOutputBytes -= stream.heldBytes
      stream.responseBody = []
      reset(stream.id, NGHTTP2_INTERNAL_ERROR)
    }
  }

  // MARK: Callbacks (from HTTP2Callbacks, inside mem_recv / mem_send)

  func beginHeaders(streamID: Int32, isRequest: Bool) -> Int32 {
    guard isRequest else { return 0 }
    if draining {
      return HTTP2Callbacks.refuse(session, streamID, NGHTTP2_REFUSED_STREAM)
    }
    // Work in flight counts streams the client has reset too: the backend is still busy for them.
    if inFlight + receiving >= configuration.http2.maxConcurrentStreams {
      statistics.record(.http2StreamRefused)
      misbehaved()
      return HTTP2Callbacks.refuse(session, streamID, NGHTTP2_REFUSED_STREAM)
    }
    streams[streamID] = HTTP2Stream(id: streamID, startedAt: connection.loop.now)
    statistics.streamOpened()
    receiving += 1
    return 0
  }

  func header(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Int32 {
    guard let stream = streams[streamID], !stream.refused else { return 0 }
    stream.headerListBytes += name.count + value.count + 32
    guard stream.headerListBytes <= configuration.limits.maxHeaderBytes,
      stream.headers.count < configuration.limits.maxHeaderCount
    else {
      // nghttp2 1.52 advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it: an HPACK
      // block of a few KB can decode to megabytes. Over the limit is abuse: GOAWAY.
      terminate(NGHTTP2_ENHANCE_YOUR_CALM)
      return HTTP2Callbacks.temporalFailure
    }
    let text = String(decoding: value, as: UTF8.self)
    if name.first == UInt8(ascii: ":") {
      switch String(decoding: name, as: UTF8.self) {
      case ":method": stream.method = text
      case ":path": stream.path = text
      case ":authority": stream.authority = text
      case ":scheme": stream.scheme = text
      default: break
      }
    } else {
      stream.headers.add(name: String(decoding: name, as: UTF8.self), value: text)
    }
    return 0
  }

  func dataChunk(streamID: Int32, data: UnsafeRawBufferPointer) -> Int32 {
    guard let stream = streams[streamID], !stream.refused, let session else { return 0 }
    guard stream.body.count + data.count <= configuration.limits.maxBodyBytes else {
      refuse(
        stream,
        .error(
          .contentTooLarge, code: "content_too_large",
          message: "body larger than \(configuration.limits.maxBodyBytes) bytes"), session: session)
      return 0
    }
    guard budget.reserveBody(data.count) else {
      statistics.record(.bodyBudgetRejected)
      var busy = HTTPResponse.error(
        .serviceUnavailable, code: "overloaded", message: HTTP1RequestReader.busy.reason)
      busy.headers.add(name: "Retry-After", value: "1")
      refuse(stream, busy, session: session)
      return 0
    }
    stream.reservedBodyBytes += data.count
    stream.body.append(contentsOf: data)
    return 0
  }

  /// Answers a stream before its request is complete (413, 503) and stops reading its body.
  private func refuse(_ stream: HTTP2Stream, _ response: HTTPResponse, session: OpaquePointer) {
    stream.refused = true
    releaseBody(stream)
    stream.body = []
    submit(response, on: stream, session: session)
    misbehaved()
  }

  func requestComplete(streamID: Int32) {
    guard let stream = streams[streamID], !stream.refused, !stream.dispatched else { return }
    ready.append(stream)
  }

  func streamClosed(streamID: Int32, errorCode: UInt32) {
    guard let stream = streams.removeValue(forKey: streamID) else { return }
    statistics.streamClosed()
    if !stream.dispatched { receiving -= 1 }
    releaseBody(stream)
    heldOutputBytes -= stream.heldBytes
    if errorCode != NGHTTP2_NO_ERROR.rawValue && !stream.responding { statistics.record(.http2StreamReset) }
  }

  /// Copies the next part of a stream's response body into nghttp2's frame buffer.
  func readBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> (Int, Bool) {
    guard let stream = streams[streamID] else { return (0, true) }
    let count = min(capacity, stream.heldBytes)
    stream.responseBody.withUnsafeBufferPointer { body in
      if count > 0 { buffer.update(from: body.baseAddress! + stream.responseOffset, count: count) }
    }
    stream.responseOffset += count
    heldOutputBytes -= count
    let done = stream.heldBytes == 0
    if done {
      stream.responseBody = []
      stream.responseOffset = 0
    }
    return (count, done)
  }

  /// A response's last frame went out while the client may still be sending its body (we
  /// answered early): tell it to stop (RFC 9113 §8.1).
  func responseSent(streamID: Int32) {
    guard let stream = streams[streamID], stream.refused else { return }
    reset(streamID, NGHTTP2_NO_ERROR)
  }

  func clientSettingsReceived() {
    awaitingClientSettings = false
  }

  func invalidFrame() {
    misbehaved()
  }
}
