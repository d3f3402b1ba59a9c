import Synchronization

/// Counters of the server's rare events across all loops, for metrics and tests. Per-request
/// counting belongs to the application's per-loop metrics, not here: these take a lock.
public final class ServerStatistics: Sendable {
  /// What a counter counts.
  public enum Event: Int, CaseIterable, Sendable {
    case connectionAccepted, connectionRejected, parseError, headerTimeout
    case idleTimeout, droppedResponder, doubleResponse, acceptError
    /// A client took none of its unsent output for `sendTimeout` seconds and was closed.
    case sendTimeout
    /// A request body did not arrive within `bodyReadTimeout`.
    case bodyTimeout
    /// A request body was refused because all bodies in flight would pass their bound.
    case bodyBudgetRejected
    /// HTTP/2: GOAWAY sent, by reason.
    case http2GoawayNoError, http2GoawayProtocolError, http2GoawayEnhanceYourCalm, http2GoawayOther
    /// HTTP/2: a new stream refused (too much work in flight on its connection).
    case http2StreamRefused
    /// HTTP/2: a stream the client reset before its answer.
    case http2StreamReset

    /// The label used in metrics.
    public var label: String {
      switch self {
      case .connectionAccepted: "accepted"
      case .connectionRejected: "rejected_over_limit"
      case .parseError: "parse_error"
      case .headerTimeout: "header_timeout"
      case .idleTimeout: "idle_timeout"
      case .droppedResponder: "dropped_responder"
      case .doubleResponse: "double_response"
      case .acceptError: "accept_error"
      case .sendTimeout: "send_timeout"
      case .bodyTimeout: "body_timeout"
      case .bodyBudgetRejected: "body_budget_rejected"
      case .http2GoawayNoError: "h2_goaway_no_error"
      case .http2GoawayProtocolError: "h2_goaway_protocol_error"
      case .http2GoawayEnhanceYourCalm: "h2_goaway_enhance_your_calm"
      case .http2GoawayOther: "h2_goaway_other"
      case .http2StreamRefused: "h2_stream_refused"
      case .http2StreamReset: "h2_stream_reset_by_client"
      }
    }
  }

  private let counters = Mutex<[Int]>(Array(repeating: 0, count: Event.allCases.count))
  private let open = Atomic<Int>(0)
  /// Requests by protocol, one slot per loop (each loop writes its own: no contention).
  private let requestCounters: [Counter]
  private let loops: Int

  /// The protocols requests are counted by.
  public enum RequestProtocol: Int, CaseIterable, Sendable {
    case http1, http2
    public var label: String { self == .http1 ? "http/1.1" : "h2" }
  }

  public init(loops: Int = 1) {
    self.loops = max(1, loops)
    requestCounters = (0..<(self.loops * RequestProtocol.allCases.count)).map { _ in Counter() }
  }

  func recordRequest(protocol kind: RequestProtocol, loop: Int) {
    requestCounters[(loop % loops) * RequestProtocol.allCases.count + kind.rawValue].value.add(1, ordering: .relaxed)
  }

  /// Requests received with `kind`, summed over loops.
  public func requests(_ kind: RequestProtocol) -> Int {
    (0..<loops).reduce(0) {
      $0 + requestCounters[$1 * RequestProtocol.allCases.count + kind.rawValue].value.load(ordering: .relaxed)
    }
  }

  /// Connections open right now.
  public var openConnections: Int { open.load(ordering: .relaxed) }

  private let streams = Atomic<Int>(0)
  /// HTTP/2 streams open right now, over all connections.
  public var openStreams: Int { streams.load(ordering: .relaxed) }

  func streamOpened() { streams.add(1, ordering: .relaxed) }
  func streamClosed() { streams.subtract(1, ordering: .relaxed) }

  /// How many times `event` happened since start.
  public func count(_ event: Event) -> Int { counters.withLock { $0[event.rawValue] } }

  func record(_ event: Event) { counters.withLock { $0[event.rawValue] += 1 } }

  /// Reserves a connection slot if fewer than `limit` are open.
  func reserveConnection(limit: Int) -> Bool {
    let previous = open.add(1, ordering: .relaxed).oldValue
    if previous >= limit {
      open.subtract(1, ordering: .relaxed)
      return false
    }
    return true
  }

  func releaseConnection() { open.subtract(1, ordering: .relaxed) }
}

/// One relaxed atomic counter in its own object, so counters can sit in an array.
final class Counter: Sendable {
  let value = Atomic<Int>(0)
}
