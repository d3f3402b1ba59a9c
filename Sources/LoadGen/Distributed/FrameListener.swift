import CLinux
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// The master's listening socket on its loop: each accepted connection becomes a
/// `FrameConnection` handed to `onConnection`.
final class FrameListener: EventHandler, @unchecked Sendable {
  let loop: EventLoop
  let fd: Int32
  let maximumFrameBytes: Int
  var onConnection: (FrameConnection) -> Void = { _ in }

  init(loop: EventLoop, address: SocketAddress, maximumFrameBytes: Int) throws {
    self.loop = loop
    self.maximumFrameBytes = maximumFrameBytes
    fd = try Socket.listen(on: address, backlog: 64, reusePort: false)
  }

  /// The port bound (the one picked, for port 0).
  var port: Int { Socket.localPort(fd) }

  /// Starts accepting; on the loop's thread.
  func start() throws { try loop.register(fd: fd, events: EventMask.readable, handler: self) }

  func handleEvents(_ events: UInt32) {
    while true {
      let client = cl_accept4(fd, nil, nil, CL_SOCK_NONBLOCK | CL_SOCK_CLOEXEC)
      if client < 0 {
        if errno == EINTR { continue }
        return  // EAGAIN, or out of descriptors: try again on the next readiness
      }
      try? Socket.setOption(client, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
      do {
        let connection = try FrameConnection(
          loop: loop, fd: client, peer: Socket.peerName(client), connecting: false,
          maximumFrameBytes: maximumFrameBytes)
        onConnection(connection)
      } catch {
        Glibc.close(client)
      }
    }
  }

  func close() {
    loop.unregister(fd: fd)
    Glibc.close(fd)
  }
}
