import CLinux
import Logging
import Reactor
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// An HTTP server on an `EventLoopGroup`: one listening socket per loop with SO_REUSEPORT, so
/// the kernel spreads connections and each connection lives on one loop for its whole life.
/// Unless `sharePort` is set, no other process may listen on the port at the same time.
public final class HTTPServer: @unchecked Sendable {
  public let configuration: ServerConfiguration
  public let group: EventLoopGroup
  public let router: Router
  public let dispatcher: RequestDispatcher
  public let statistics: ServerStatistics
  let budget: MemoryBudget
  private var contexts: [ServerLoopContext] = []
  private let state = Mutex<(started: Bool, drainsLeft: Int, port: Int)>((false, 0, 0))

  public init(configuration: ServerConfiguration, group: EventLoopGroup, router: Router) {
    self.configuration = configuration
    self.group = group
    self.router = router
    dispatcher = RequestDispatcher(router: router)
    statistics = ServerStatistics(loops: group.loops.count)
    budget = MemoryBudget(
      maxOutputBytes: configuration.maxTotalBufferedOutputBytes, maxBodyBytes: configuration.maxTotalBodyBytes)
  }

  /// Unsent response bytes held across all connections now.
  public var bufferedOutputBytes: Int { budget.outputBytes }
  /// Request body bytes being received across all connections now.
  public var bufferedBodyBytes: Int { budget.bodyBytes }

  /// The bound port (useful after binding port 0).
  public var port: Int { state.withLock { $0.port } }

  /// Binds one listener per loop and starts accepting. Errors (address in use, bad address) are
  /// thrown here, before any loop sees the server. Call before or after `group.start()`.
  public func start() throws {
    try configuration.validate()
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
      // SO_REUSEPORT lets this process's loops share the port; it would also let another
      // process of the same user join and take a share of the connections. Refuse that unless
      // sharing was asked for.
      if !configuration.sharePort,
        let other = Socket.foreignListener(port: Socket.localPort(listeners[0]), ours: listeners)
      {
        throw SystemError(
          "bind(\(address)): another process (socket inode \(other)) already listens on this port; stop it, pick another port, or allow sharing with --share-port",
          code: EADDRINUSE)
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
