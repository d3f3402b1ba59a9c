import CLinux
import Logging
import Reactor
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// An HTTP/1.1 server on an `EventLoopGroup`: one listening socket per loop with SO_REUSEPORT,
/// so the kernel spreads connections and each connection lives on one loop for its whole life.
public final class HTTPServer: @unchecked Sendable {
  public let configuration: ServerConfiguration
  public let group: EventLoopGroup
  public let router: Router
  public let statistics = ServerStatistics()
  private var contexts: [ServerLoopContext] = []
  private let state = Mutex<(started: Bool, drainsLeft: Int, port: Int)>((false, 0, 0))

  public init(configuration: ServerConfiguration, group: EventLoopGroup, router: Router) {
    self.configuration = configuration
    self.group = group
    self.router = router
  }

  /// The bound port (useful after binding port 0).
  public var port: Int { state.withLock { $0.port } }

  /// Binds one listener per loop and starts accepting. Errors (address in use, bad address) are
  /// thrown here, before any loop sees the server. Call before or after `group.start()`.
  public func start() throws {
    signal(SIGPIPE, SIG_IGN)
    let address = try SocketAddress(host: configuration.host, port: configuration.port)
    var listeners: [Int32] = []
    do {
      var boundAddress = address
      for _ in group.loops {
        let fd = try Socket.listen(on: boundAddress, backlog: configuration.backlog, reusePort: true)
        listeners.append(fd)
        if configuration.port == 0 && listeners.count == 1 {
          boundAddress = try SocketAddress(host: configuration.host, port: Socket.localPort(fd))
        }
      }
    } catch {
      for fd in listeners { close(fd) }
      throw error
    }
    let port = Socket.localPort(listeners[0])
    state.withLock {
      $0.started = true
      $0.port = port
    }
    contexts = zip(group.loops, listeners).map { ServerLoopContext(loop: $0, server: self, listenFD: $1) }
    for context in contexts {
      let box = UncheckedBox(context)
      context.loop.execute {
        do {
          try box.value.start()
        } catch {
          httpLogger.error(
            "cannot start listening", metadata: ["loop": "\(box.value.loop.index)", "error": "\(error)"])
        }
      }
    }
  }

  /// Graceful shutdown: every loop stops accepting, closes idle connections, lets in-flight
  /// requests finish (up to `drainTimeout`), then `completion` runs (on some loop thread).
  public func shutdown(completion: @escaping @Sendable () -> Void) {
    let contexts = self.contexts
    state.withLock { $0.drainsLeft = contexts.count }
    if contexts.isEmpty {
      completion()
      return
    }
    for context in contexts {
      let box = UncheckedBox(context)
      context.loop.execute {
        box.value.beginDraining {
          let last = self.state.withLock { state -> Bool in
            state.drainsLeft -= 1
            return state.drainsLeft == 0
          }
          if last { completion() }
        }
      }
    }
  }
}
