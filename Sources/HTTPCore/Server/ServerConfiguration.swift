import Reactor

/// Everything an `HTTPServer` can be told. Every field has a CLI flag; the defaults here are the
/// only place they are written, and they are safe for the open network.
public struct ServerConfiguration: Sendable {
  /// Numeric address to bind (`0.0.0.0`, `127.0.0.1`, `::`).
  public var host = "0.0.0.0"
  /// TCP port; 0 picks a free one (read it back from `HTTPServer.port`).
  public var port = 8080
  /// Let other processes listen on the same port at the same time (SO_REUSEPORT across
  /// processes, for a zero-downtime restart). Off: a port another process listens on is
  /// "address in use", and the loops of this process are the only ones sharing it.
  public var sharePort = false
  /// listen(2) backlog.
  public var backlog: Int32 = 1024
  /// Request size limits.
  public var limits = HTTPLimits()
  /// Seconds a client may take to send a whole request head (slowloris bound); then 408 + close.
  public var headerReadTimeout: Double = 10
  /// Seconds a client may take to send a whole request body once its head has arrived, however
  /// it trickles; then 408 + close.
  public var bodyReadTimeout: Double = 30
  /// Seconds a connection with unsent response bytes may go without the client taking any of
  /// them; then it is closed (a client that never reads cannot hold its memory).
  public var sendTimeout: Double = 30
  /// Seconds a keep-alive connection may sit idle before it is closed.
  public var idleTimeout: Double = 60
  /// Open connections across all loops; beyond it new ones get 503 and are closed.
  public var maxConnections = 10_000
  /// Pipelined requests answered-or-pending per connection before reading pauses.
  public var maxPipelinedRequests = 128
  /// Unsent response bytes per connection before reading pauses (write backpressure).
  public var maxBufferedOutputBytes = 256 * 1024
  /// Response bytes the kernel may hold unsent for one connection (TCP_NOTSENT_LOWAT). Without
  /// it the kernel's send buffer grows to megabytes for a client that reads nothing, and the
  /// server keeps producing answers into it.
  public var maxSocketUnsentBytes = 128 * 1024
  /// Unsent response bytes across all connections before every connection that has unsent
  /// bytes stops taking new requests until its client reads.
  public var maxTotalBufferedOutputBytes = 256 * 1024 * 1024
  /// Request body bytes in flight across all connections (declared lengths count in full when
  /// the head arrives); a body that would pass it gets 503 + Retry-After and the connection closes.
  public var maxTotalBodyBytes = 256 * 1024 * 1024
  /// Requests one connection may have handled in one pass of its loop before the loop serves the
  /// other connections (it comes back for the rest in the next pass).
  public var maxRequestsPerPass = 32
  /// Response bytes one connection may have produced in one pass of its loop (the same fairness
  /// bound for large answers).
  public var maxOutputBytesPerPass = 256 * 1024
  /// Seconds one connection may keep its loop busy in one pass (it always gets one request):
  /// with expensive routes, 20 pipelining clients must not hold every other client for longer
  /// than about 20 times this.
  public var maxPassTime = 0.0005
  /// HTTP/2 (h2c) on the same listener.
  public var http2 = HTTP2Configuration()
  /// Seconds graceful shutdown waits for in-flight requests before closing everything.
  public var drainTimeout: Double = 10
  /// Seconds a closing connection lingers (write side shut) so the last response is not reset.
  public var lingerTimeout: Double = 1

  public init() {}

  /// Refuses settings that cannot work, naming the setting (by its flag name) and the range.
  public func validate() throws {
    try ConfigurationError.check("port", port, in: 0...65535)
    try ConfigurationError.check("backlog", Int(backlog), in: 1...65535)
    try limits.validate()
    for (name, value) in [
      ("header-read-timeout", headerReadTimeout), ("body-read-timeout", bodyReadTimeout),
      ("send-timeout", sendTimeout), ("idle-timeout", idleTimeout), ("drain-timeout", drainTimeout),
      ("linger-timeout", lingerTimeout),
    ] {
      try ConfigurationError.checkSeconds(name, value, positive: true)
    }
    try ConfigurationError.checkSeconds("max-pass-time", maxPassTime, positive: true, maximum: 10)
    try http2.validate()
    for (name, value, range) in [
      ("max-connections", maxConnections, 1...10_000_000), ("max-pipelined-requests", maxPipelinedRequests, 1...65536),
      ("max-buffered-output-bytes", maxBufferedOutputBytes, 1024...(1 << 40)),
      ("max-socket-unsent-bytes", maxSocketUnsentBytes, 4096...(1 << 30)),
      ("max-total-buffered-output-bytes", maxTotalBufferedOutputBytes, 1024...(1 << 50)),
      ("max-total-body-bytes", maxTotalBodyBytes, 1...(1 << 50)),
      ("max-requests-per-pass", maxRequestsPerPass, 1...1_000_000),
      ("max-output-bytes-per-pass", maxOutputBytesPerPass, 1024...(1 << 40)),
    ] {
      try ConfigurationError.check(name, value, in: range)
    }
  }
}
