import CLinux
import CNghttp2
import Codecs
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One HTTP/2 (h2c, prior knowledge) client connection on an `EventLoop`, carrying many requests
/// at once as streams. All methods and callbacks run on the loop's thread. The load generator's
/// `--http2` mode uses it; nghttp2 does the framing, as on the server side.
///
/// A request that times out has its stream reset; the connection and its other streams go on.
public final class HTTP2ClientConnection: EventHandler {
  public typealias Completion = HTTPClientConnection.Completion

  private final class Stream {
    let completion: Completion
    let deadline: UInt64
    let isHead: Bool
    var response = HTTPClientResponse(status: 0, reason: "", headers: HTTPHeaders(), body: [])
    var body: [UInt8]
    var bodyOffset = 0
    init(completion: @escaping Completion, deadline: UInt64, isHead: Bool, body: [UInt8]) {
      self.completion = completion
      self.deadline = deadline
      self.isHead = isHead
      self.body = body
    }
  }

  public let loop: EventLoop
  /// The `:authority` requests carry.
  public let authority: String
  private let fd: Int32
  private var session: OpaquePointer?
  private var streams: [Int32: Stream] = [:]
  private var connecting = true
  private var connectCompletion: ((Result<HTTP2ClientConnection, HTTPClientError>) -> Void)?
  private var connectTimer: TimerID?
  private var timeoutTimer: TimerID?
  private var output: [UInt8] = []
  private var outputSent = 0
  private var interest: UInt32 = 0
  private var insideNghttp2 = false
  private var closed = false
  /// The most streams the server lets us have open (its SETTINGS_MAX_CONCURRENT_STREAMS).
  public var maxConcurrentStreams: Int {
    guard let session else { return 0 }
    return Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
  }

  /// Whether the connection is open (connected and not closed).
  public private(set) var isOpen = false
  /// Requests sent and not yet answered.
  public var inFlight: Int { streams.count }

  private init(loop: EventLoop, authority: String, fd: Int32) {
    self.loop = loop
    self.authority = authority
    self.fd = fd
  }

  deinit {
    if let session { nghttp2_session_del(session) }
  }

  /// Opens a connection to a numeric `host` and `port` and sends the HTTP/2 preface; `completion`
  /// runs on `loop`.
  public static func connect(
    loop: EventLoop, host: String, port: Int, timeout: Double = 5,
    completion: @escaping (Result<HTTP2ClientConnection, HTTPClientError>) -> Void
  ) {
    let fd: Int32
    do {
      fd = try Socket.startConnect(to: SocketAddress(host: host, port: port))
    } catch {
      completion(.failure(.connectFailed(error as? SystemError ?? SystemError("connect", code: EINVAL))))
      return
    }
    let connection = HTTP2ClientConnection(loop: loop, authority: "\(host):\(port)", fd: fd)
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
    if case .failure(let error) = result {
      teardown(failing: error)
      completion?(.failure(error))
      return
    }
    guard let created = makeSession() else {
      teardown(failing: .connectFailed(SystemError("nghttp2_session_client_new", code: ENOMEM)))
      completion?(.failure(.connectFailed(SystemError("nghttp2_session_client_new", code: ENOMEM))))
      return
    }
    session = created
    isOpen = true
    pump()
    completion?(.success(self))
  }

  private func makeSession() -> OpaquePointer? {
    var callbacks: OpaquePointer? = nil
    nghttp2_session_callbacks_new(&callbacks)
    defer { nghttp2_session_callbacks_del(callbacks) }
    HTTP2ClientCallbacks.install(on: callbacks)
    var created: OpaquePointer? = nil
    guard nghttp2_session_client_new(&created, callbacks, Unmanaged.passUnretained(self).toOpaque()) == 0 else {
      return nil
    }
    var settings = [
      nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
      nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 16 << 20),
    ]
    nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    // The connection window too, so large answers on many streams are not held back.
    nghttp2_submit_window_update(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, (16 << 20) - 65535)
    return created
  }

  // MARK: Requests

  /// Sends `request` on a new stream. Fails at once with `.invalidRequest` for a request that
  /// cannot be written, `.cancelled` when the connection is not open.
  public func send(_ request: HTTPClientRequest, timeout: Double = 10, completion: @escaping Completion) {
    if let invalidity = request.invalidity { return completion(.failure(.invalidRequest(invalidity))) }
    guard isOpen, let session else { return completion(.failure(closed ? .connectionClosed : .cancelled)) }
    var fields = HTTP2HeaderBlock()
    fields.add(":method", request.method.description)
    fields.add(":scheme", "http")
    fields.add(":authority", request.headers["host"] ?? authority)
    fields.add(":path", request.target)
    for field in request.headers
    where !HTTP2HeaderBlock.isConnectionSpecific(field.name)
      && !ASCII.equalsIgnoringCase(field.name, "host")
    {
      fields.add(field.name, field.value)
    }
    let hasBody = !request.body.isEmpty
    if hasBody || request.method == .post || request.method == .put {
      fields.add("content-length", String(request.body.count))
    }
    let deadline = loop.now &+ nanoseconds(fromSeconds: timeout)
    let stream = Stream(completion: completion, deadline: deadline, isHead: request.method == .head, body: request.body)
    let id = fields.withNameValues { nva, count -> Int32 in
      if hasBody {
        var provider = nghttp2_data_provider(
          source: nghttp2_data_source(ptr: nil), read_callback: HTTP2ClientCallbacks.readRequestBody)
        return nghttp2_submit_request(session, nil, nva, count, &provider, nil)
      }
      return nghttp2_submit_request(session, nil, nva, count, nil, nil)
    }
    guard id > 0 else {
      return completion(.failure(.malformedResponse("cannot open a stream (nghttp2 error \(id))")))
    }
    streams[id] = stream
    armTimeout(deadline)
    pump()
  }

  /// Closes the connection; requests in flight fail with `.cancelled`.
  public func close() {
    teardown(failing: .cancelled)
  }

  // MARK: I/O

  public func handleEvents(_ events: UInt32) {
    if closed { return }
    if connecting {
      finishConnect(HTTPClientError.connectOutcome(fd: fd, events: events).map { .failure($0) } ?? .success(()))
      return
    }
    if events & EventMask.writable != 0 { pump() }
    if closed { return }
    if events & (EventMask.readable | EventMask.hangUp | EventMask.error) != 0 { readFrames() }
  }

  private func readFrames() {
    let count = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16384) { scratch -> Int in
      let received = read(fd, scratch.baseAddress!, 16384)
      guard received > 0, let session else { return received }
      insideNghttp2 = true
      let consumed = nghttp2_session_mem_recv(session, scratch.baseAddress, received)
      insideNghttp2 = false
      return consumed < 0 ? Int(consumed) : received
    }
    if count == 0 {
      return teardown(failing: .connectionClosed)
    }
    if count < 0 {
      if count == -1 && (errno == EAGAIN || errno == EINTR) { return }
      return teardown(failing: .malformedResponse("HTTP/2 protocol error"))
    }
    pump()
  }

  /// Moves nghttp2's frames to the socket.
  private func pump() {
    guard let session, !insideNghttp2, !closed else { return }
    insideNghttp2 = true
    while output.count - outputSent < 256 * 1024 {
      var data: UnsafePointer<UInt8>? = nil
      let count = nghttp2_session_mem_send(session, &data)
      if count <= 0 { break }
      output.append(contentsOf: UnsafeBufferPointer(start: data, count: count))
    }
    insideNghttp2 = false
    while outputSent < output.count {
      let written = output.withUnsafeBytes { raw in
        Glibc.send(fd, raw.baseAddress! + outputSent, raw.count - outputSent, Int32(MSG_NOSIGNAL))
      }
      if written > 0 {
        outputSent += written
        continue
      }
      if errno == EINTR { continue }
      if errno == EAGAIN { break }
      return teardown(failing: .connectionClosed)
    }
    if outputSent == output.count {
      output.removeAll(keepingCapacity: true)
      outputSent = 0
    }
    if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 && outputSent == 0 {
      return teardown(failing: .connectionClosed)
    }
    let wanted = EventMask.readable | (outputSent < output.count ? EventMask.writable : 0)
    if wanted != interest {
      interest = wanted
      loop.modify(fd: fd, events: wanted)
    }
  }

  // MARK: Timeouts

  private func armTimeout(_ deadline: UInt64) {
    if timeoutTimer != nil { return }
    timeoutTimer = loop.schedule(atDeadline: deadline) { [weak self] in
      guard let self else { return }
      self.timeoutTimer = nil
      self.expireStreams()
    }
  }

  private func expireStreams() {
    guard let session else { return }
    let now = monotonicNanoseconds()
    var next = UInt64.max
    for (id, stream) in streams {
      if stream.deadline <= now {
        streams[id] = nil
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, NGHTTP2_CANCEL.rawValue)
        stream.completion(.failure(.timeout))
      } else {
        next = min(next, stream.deadline)
      }
    }
    if next != UInt64.max { armTimeout(next) }
    pump()
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
    let failed = streams.values
    streams.removeAll()
    for stream in failed { stream.completion(.failure(error)) }
    if let session { nghttp2_session_del(session) }
    session = nil
  }

  // MARK: Callbacks (from HTTP2ClientCallbacks, inside nghttp2)

  func header(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    guard let stream = streams[streamID] else { return }
    if name.count == 7 && name.elementsEqual(":status".utf8) {
      var status = 0
      for digit in value where digit >= 48 && digit <= 57 { status = status * 10 + Int(digit - 48) }
      stream.response.status = status
    } else if name.first != UInt8(ascii: ":") {
      stream.response.headers.add(
        name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }
  }

  func data(streamID: Int32, bytes: UnsafeRawBufferPointer) {
    guard let stream = streams[streamID] else { return }
    guard stream.response.body.count + bytes.count <= 64 << 20 else {
      nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
      return
    }
    stream.response.body.append(contentsOf: bytes)
  }

  func streamClosed(streamID: Int32, errorCode: UInt32) {
    guard let stream = streams.removeValue(forKey: streamID) else { return }
    if errorCode == NGHTTP2_NO_ERROR.rawValue && stream.response.status >= 200 {
      stream.completion(.success(stream.response))
    } else if errorCode == NGHTTP2_REFUSED_STREAM.rawValue {
      stream.completion(.failure(.malformedResponse("stream refused by the server")))
    } else {
      stream.completion(.failure(.malformedResponse("stream reset by the server (HTTP/2 error \(errorCode))")))
    }
  }

  func readBody(streamID: Int32, into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> (Int, Bool) {
    guard let stream = streams[streamID] else { return (0, true) }
    let count = min(capacity, stream.body.count - stream.bodyOffset)
    stream.body.withUnsafeBufferPointer { body in
      if count > 0 { buffer.update(from: body.baseAddress! + stream.bodyOffset, count: count) }
    }
    stream.bodyOffset += count
    return (count, stream.bodyOffset == stream.body.count)
  }
}

/// The client's nghttp2 callbacks, forwarding to the connection in the user data.
enum HTTP2ClientCallbacks {
  static func install(on callbacks: OpaquePointer?) {
    nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onData)
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)
  }

  private static func connection(_ user: UnsafeMutableRawPointer) -> HTTP2ClientConnection {
    Unmanaged<HTTP2ClientConnection>.fromOpaque(user).takeUnretainedValue()
  }

  static let readRequestBody: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, user in
    guard let user, let buffer else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
    let (count, done) = connection(user).readBody(streamID: streamID, into: buffer, capacity: length)
    if done { flags?.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
    return count
  }

  private static let onHeader: nghttp2_on_header_callback = { _, frame, name, nameCount, value, valueCount, _, user in
    guard let frame, let user, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    connection(user).header(
      streamID: frame.pointee.hd.stream_id, name: UnsafeRawBufferPointer(start: name, count: nameCount),
      value: UnsafeRawBufferPointer(start: value, count: valueCount))
    return 0
  }

  private static let onData: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, count, user in
    guard let user else { return 0 }
    connection(user).data(streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: count))
    return 0
  }

  private static let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, user in
    guard let user else { return 0 }
    connection(user).streamClosed(streamID: streamID, errorCode: errorCode)
    return 0
  }
}
