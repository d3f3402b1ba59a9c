import Reactor

/// HTTP/2 (h2c on the HTTP/1.1 port) settings, each a flag. nghttp2 1.52 enforces some limits
/// itself (CONTINUATION frames, queued ACKs, SETTINGS entries, the stream reset rate); the rest
/// (header list size, body size, work in flight) the session enforces in its callbacks.
public struct HTTP2Configuration: Sendable, Equatable {
  /// Serve HTTP/2 with prior knowledge and `Upgrade: h2c` on the same listener.
  public var enabled = true
  /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise, and the most requests one connection may
  /// have dispatched and not yet answered (reset streams included until their work ends: a
  /// rapid reset cannot pile up backend work).
  public var maxConcurrentStreams = 100
  /// SETTINGS_INITIAL_WINDOW_SIZE we advertise: how much of a request body a client may send
  /// before we acknowledge it.
  public var initialWindowBytes = 65535
  /// Stream resets a client may send in a burst, and per second after it, before the
  /// connection ends with GOAWAY (CVE-2023-44487).
  public var streamResetBurst = 200
  public var streamResetsPerSecond = 33
  /// CONTINUATION frames after one HEADERS frame (CVE-2024-28182).
  public var maxContinuations = 8
  /// SETTINGS and PING acknowledgements queued for a client that does not read them
  /// (CVE-2019-9512/9515).
  public var maxOutboundAcks = 1000
  /// Protocol errors and refused streams one connection may cause before it ends with GOAWAY.
  public var maxMisbehaviour = 100

  public init() {}

  public func validate() throws {
    try ConfigurationError.check("http2-max-concurrent-streams", maxConcurrentStreams, in: 1...100_000)
    try ConfigurationError.check("http2-initial-window-bytes", initialWindowBytes, in: 1...2_147_483_647)
    try ConfigurationError.check("http2-stream-reset-burst", streamResetBurst, in: 1...1_000_000)
    try ConfigurationError.check("http2-stream-resets-per-second", streamResetsPerSecond, in: 1...1_000_000)
    try ConfigurationError.check("http2-max-continuations", maxContinuations, in: 1...1000)
    try ConfigurationError.check("http2-max-outbound-acks", maxOutboundAcks, in: 1...1_000_000)
    try ConfigurationError.check("http2-max-misbehaviour", maxMisbehaviour, in: 1...1_000_000)
  }
}
