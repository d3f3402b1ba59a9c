import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// The server's state on one loop: its listening socket, its connections, the cached Date line
/// and the once-a-second timeout sweep.
final class ServerLoopContext: EventHandler {
  let loop: EventLoop
  // The server owns its contexts and outlives them (see ServerConnection.context).
  unowned(unsafe) let server: HTTPServer
  let date = DateCache()
  private var listenFD: Int32
  private var spareFD: Int32
  private var connections: [ServerConnection] = []
  private var sweepTimer: TimerID? = nil
  private var draining = false
  private var onDrained: (() -> Void)? = nil

  init(loop: EventLoop, server: HTTPServer, listenFD: Int32) {
    self.loop = loop
    self.server = server
    self.listenFD = listenFD
    spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
  }

  /// Registers the listener and starts the sweep; runs on the loop.
  func start() throws {
    try loop.register(fd: listenFD, events: EventMask.readable, handler: self)
    scheduleSweep()
  }

  private func scheduleSweep() {
    sweepTimer = loop.schedule(afterNanoseconds: 1_000_000_000) { [weak self] in
      guard let self else { return }
      let now = self.loop.now
      for connection in self.connections { connection.sweep(now: now) }
      self.scheduleSweep()
    }
  }

  // MARK: Accepting

  func handleEvents(_ events: UInt32) {
    // Accept a bounded batch, so one busy listener cannot starve the loop's connections.
    for _ in 0..<64 {
      let fd = cl_accept4(listenFD, nil, nil, CL_SOCK_NONBLOCK | CL_SOCK_CLOEXEC)
      if fd < 0 {
        let code = errno
        switch code {
        case EAGAIN, EINTR, ECONNABORTED: return
        case EMFILE, ENFILE:
          shedWithSpareDescriptor()
          return
        default:
          server.statistics.record(.acceptError)
          return
        }
      }
      accepted(fd)
    }
  }

  /// Out of descriptors: free the spare, accept and close one pending connection so the
  /// level-triggered listener does not spin, then take the spare back.
  private func shedWithSpareDescriptor() {
    server.statistics.record(.acceptError)
    guard spareFD >= 0 else { return }
    Glibc.close(spareFD)
    let fd = cl_accept4(listenFD, nil, nil, CL_SOCK_CLOEXEC)
    if fd >= 0 { Glibc.close(fd) }
    spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
  }

  private func accepted(_ fd: Int32) {
    guard server.statistics.reserveConnection(limit: server.configuration.maxConnections) else {
      server.statistics.record(.connectionRejected)
      let body = #"{"error":"overloaded","message":"too many open connections"}"#
      let refusal =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
        + "Connection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
      _ = refusal.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
      Glibc.close(fd)
      return
    }
    try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    // Bounds what the kernel queues for a client that does not read (see maxSocketUnsentBytes).
    try? Socket.setOption(
      fd, Int32(IPPROTO_TCP), Socket.tcpNotSentLowWaterMark, Int32(clamping: server.configuration.maxSocketUnsentBytes))
    let connection = ServerConnection(fd: fd, context: self)
    do {
      try connection.start()
    } catch {
      Glibc.close(fd)
      server.statistics.releaseConnection()
      return
    }
    server.statistics.record(.connectionAccepted)
    connection.setIndex = connections.count
    connections.append(connection)
  }

  func connectionClosed(_ connection: ServerConnection) {
    server.statistics.releaseConnection()
    let index = connection.setIndex
    guard index < connections.count, connections[index] === connection else { return }
    let last = connections.removeLast()
    if index < connections.count {
      connections[index] = last
      last.setIndex = index
    }
    if draining && connections.isEmpty { finishDraining() }
  }

  // MARK: Shutdown

  /// Stops accepting and drains; `done` runs on this loop once every connection has closed or
  /// the drain timeout passed.
  func beginDraining(done: @escaping () -> Void) {
    if draining { return }
    draining = true
    onDrained = done
    if listenFD >= 0 {
      loop.unregister(fd: listenFD)
      Glibc.close(listenFD)
      listenFD = -1
    }
    for connection in connections { connection.beginDraining() }
    if connections.isEmpty {
      finishDraining()
      return
    }
    loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: server.configuration.drainTimeout)) {
      [weak self] in
      guard let self, self.draining else { return }
      for connection in self.connections { connection.close() }
    }
  }

  private func finishDraining() {
    if let sweepTimer { loop.cancel(sweepTimer) }
    sweepTimer = nil
    if spareFD >= 0 {
      Glibc.close(spareFD)
      spareFD = -1
    }
    let done = onDrained
    onDrained = nil
    done?()
  }
}
