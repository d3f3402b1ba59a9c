import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// One TCP connection of the distributed protocol on an `EventLoop`: whole frames in, whole
/// frames out. Everything runs on the loop's thread. A frame above the bound, a message that
/// does not decode, a peer that closes or an error ends the connection, once, with a reason.
final class FrameConnection: EventHandler, @unchecked Sendable {
  let loop: EventLoop
  /// The peer, for messages ("127.0.0.1:5557").
  let peer: String
  private let fd: Int32
  private var frames: FrameBuffer
  private var output: [UInt8] = []
  private var outputSent = 0
  private var connecting: Bool
  private var interest: UInt32 = 0
  private(set) var isClosed = false
  /// Bytes queued for a peer that does not read are bounded too: past this, the peer is dropped.
  private let maximumQueuedBytes: Int

  var onConnected: () -> Void = {}
  var onMessage: (WireMessage) -> Void = { _ in }
  /// Called once, with why the connection ended.
  var onClose: (String) -> Void = { _ in }

  /// Wraps a connected (accepted) or connecting socket and registers it with `loop`.
  init(loop: EventLoop, fd: Int32, peer: String, connecting: Bool, maximumFrameBytes: Int) throws {
    self.loop = loop
    self.fd = fd
    self.peer = peer
    self.connecting = connecting
    frames = FrameBuffer(maximumFrameBytes: maximumFrameBytes)
    maximumQueuedBytes = 4 * maximumFrameBytes + 65536
    interest = connecting ? EventMask.writable : EventMask.readable
    try loop.register(fd: fd, events: interest, handler: self)
  }

  /// Starts connecting to `address` (numeric) on `loop`.
  static func connect(
    loop: EventLoop, address: SocketAddress, peer: String, maximumFrameBytes: Int
  ) throws -> FrameConnection {
    let fd = try Socket.startConnect(to: address)
    do {
      return try FrameConnection(
        loop: loop, fd: fd, peer: peer, connecting: true, maximumFrameBytes: maximumFrameBytes)
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  func send(_ message: WireMessage) {
    guard !isClosed else { return }
    let payload = message.encoded()
    guard payload.count <= frames.maximumFrameBytes else {
      close(reason: "a message of \(payload.count) bytes exceeds the frame bound of \(frames.maximumFrameBytes)")
      return
    }
    output.append(contentsOf: FrameBuffer.frame(payload))
    guard output.count - outputSent <= maximumQueuedBytes else {
      close(reason: "the peer does not read: more than \(maximumQueuedBytes) bytes queued")
      return
    }
    if !connecting { flush() }
  }

  func handleEvents(_ events: UInt32) {
    if connecting {
      let error = Socket.pendingError(fd)
      guard error == 0 else {
        close(reason: "cannot connect to \(peer): \(SystemError("connect", code: error))")
        return
      }
      connecting = false
      setInterest(EventMask.readable)
      onConnected()
      flush()
      return
    }
    if events & EventMask.writable != 0 { flush() }
    if !isClosed && events & (EventMask.readable | EventMask.error | EventMask.hangUp) != 0 { readAvailable() }
  }

  private func readAvailable() {
    var chunk = [UInt8](repeating: 0, count: 65536)
    while !isClosed {
      let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count > 0 {
        frames.append(chunk[0..<count])
        deliverFrames()
        if count < chunk.count { return }
      } else if count == 0 {
        close(reason: "connection closed by \(peer)")
        return
      } else {
        if errno == EINTR { continue }
        if errno == EAGAIN || errno == EWOULDBLOCK { return }
        close(reason: "read from \(peer): \(SystemError("read"))")
        return
      }
    }
  }

  private func deliverFrames() {
    while !isClosed {
      switch frames.next() {
      case .incomplete: return
      case .tooLarge(let length):
        close(reason: "\(peer) sent a frame of \(length) bytes, more than the bound of \(frames.maximumFrameBytes)")
        return
      case .frame(let payload):
        guard let message = WireMessage.decode(payload) else {
          close(reason: "\(peer) sent a frame that is not a loadgen message")
          return
        }
        onMessage(message)
      }
    }
  }

  private func flush() {
    while outputSent < output.count {
      let count = output.withUnsafeBytes { raw in
        write(fd, raw.baseAddress! + outputSent, raw.count - outputSent)
      }
      if count > 0 {
        outputSent += count
      } else if count < 0 && errno == EINTR {
        continue
      } else if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
        setInterest(EventMask.readable | EventMask.writable)
        return
      } else {
        close(reason: "write to \(peer): \(SystemError("write"))")
        return
      }
    }
    output.removeAll(keepingCapacity: true)
    outputSent = 0
    setInterest(EventMask.readable)
  }

  private func setInterest(_ events: UInt32) {
    guard !isClosed, events != interest else { return }
    interest = events
    _ = loop.modify(fd: fd, events: events)
  }

  /// Closes the socket; `onClose` hears `reason` unless the connection was already closed.
  func close(reason: String) {
    guard !isClosed else { return }
    isClosed = true
    loop.unregister(fd: fd)
    Glibc.close(fd)
    let callback = onClose
    onClose = { _ in }
    onMessage = { _ in }
    callback(reason)
  }

  /// Sends what is queued (blocking briefly at most), then closes: for a last message such as
  /// a refusal, which must reach the peer before the close.
  func closeAfterFlush(reason: String) {
    guard !isClosed else { return }
    var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    var attempts = 0
    while outputSent < output.count && attempts < 100 {
      let count = output.withUnsafeBytes { raw in write(fd, raw.baseAddress! + outputSent, raw.count - outputSent) }
      if count > 0 {
        outputSent += count
      } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
        _ = poll(&pollfd, 1, 10)
        attempts += 1
      } else {
        break
      }
    }
    close(reason: reason)
  }
}
