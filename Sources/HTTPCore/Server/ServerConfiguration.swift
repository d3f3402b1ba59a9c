/// Everything an `HTTPServer` can be told. Every field has a CLI flag; defaults are safe for the
/// open network.
public struct ServerConfiguration: Sendable {
  /// Numeric address to bind (`0.0.0.0`, `127.0.0.1`, `::`).
  public var host = "0.0.0.0"
  /// TCP port; 0 picks a free one (read it back from `HTTPServer.port`).
  public var port = 8080
  /// listen(2) backlog.
  public var backlog: Int32 = 1024
  /// Request size limits.
  public var limits = HTTPLimits()
  /// Seconds a client may take to send a whole request head (slowloris bound); then 408 + close.
  public var headerReadTimeout: Double = 10
  /// Seconds a keep-alive connection may sit idle before it is closed.
  public var idleTimeout: Double = 60
  /// Open connections across all loops; beyond it new ones get 503 and are closed.
  public var maxConnections = 10_000
  /// Pipelined requests answered-or-pending per connection before reading pauses.
  public var maxPipelinedRequests = 128
  /// Unsent response bytes per connection before reading pauses (write backpressure).
  public var maxBufferedOutputBytes = 1024 * 1024
  /// Seconds graceful shutdown waits for in-flight requests before closing everything.
  public var drainTimeout: Double = 10
  /// Seconds a closing connection lingers (write side shut) so the last response is not reset.
  public var lingerTimeout: Double = 1

  public init() {}

  static func nanoseconds(_ seconds: Double) -> UInt64 {
    UInt64(max(0, seconds) * 1e9)
  }
}
