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
      }
    }
  }

  private let counters = Mutex<[Int]>(Array(repeating: 0, count: Event.allCases.count))
  private let open = Atomic<Int>(0)

  /// Connections open right now.
  public var openConnections: Int { open.load(ordering: .relaxed) }

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
