import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a server until SIGTERM or SIGINT, then shuts it down gracefully and returns. This is the
/// whole life of a server process: `featureserver serve` and the benchmark server use it.
public enum ServerRunner {
  /// Starts `group` and `server`, blocks until a shutdown signal and the drain finish.
  /// `onStart` runs once listening, with the bound port. `otherSignals` (e.g. SIGHUP, which
  /// `SignalWatcher.blockShutdownSignals` also blocks) run their handler on the first loop.
  public static func run(
    server: HTTPServer, group: EventLoopGroup, otherSignals: [Int32: @Sendable (Int32) -> Void] = [:],
    onStart: (Int) -> Void = { _ in }
  ) throws {
    SignalWatcher.blockShutdownSignals()
    try group.start()
    try server.start()
    let loop = group.loops[0]
    loop.execute {
      do {
        var watcher: SignalWatcher? = nil
        watcher = try SignalWatcher(loop: loop, signals: [SIGTERM, SIGINT]) { signal in
          httpLogger.notice("shutdown signal received, draining", metadata: ["signal": "\(signal)"])
          watcher?.cancel()
          watcher = nil
          server.shutdown { group.stop() }
        }
      } catch {
        httpLogger.error("cannot watch shutdown signals", metadata: ["error": "\(error)"])
      }
      if !otherSignals.isEmpty {
        do {
          // Lives as long as the process.
          _ = try SignalWatcher(loop: loop, signals: Array(otherSignals.keys)) { signal in
            otherSignals[signal]?(signal)
          }
        } catch {
          httpLogger.error("cannot watch signals", metadata: ["error": "\(error)", "signals": "\(otherSignals.keys)"])
        }
      }
    }
    onStart(server.port)
    group.wait()
  }
}
