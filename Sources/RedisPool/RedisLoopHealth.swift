import Atomics

/// What one loop's connections to one server (the Redis, or one cluster node) know together
/// about it answering: when a reply last came on any of them, and whether it stopped answering
/// altogether. Loop-confined (no locks), except `connectionsUp`, which readiness reads from any
/// thread.
///
/// Redis runs commands one at a time, so when a command times out and no connection of the loop
/// has had a reply since that command was sent, Redis itself is stuck (frozen, blocked by a slow
/// script, a network partition), not one connection. Then every new command would wait out its
/// timeout too; instead they fail at once (callers serve stale or a fast 503) until the first
/// late reply shows Redis is back.
final class RedisLoopHealth: @unchecked Sendable {
  /// The server, `host:port` for a cluster node (empty for a single Redis).
  let address: String
  /// Connections to it that are ready (an atomic: read off the loop).
  let connectionsUp = ManagedAtomic<Int>(0)
  private(set) var lastReplyAt: UInt64 = 0
  /// Redis is not answering on this loop (see above).
  private(set) var unresponsive = false

  init(address: String = "") {
    self.address = address
  }

  func replyArrived(at now: UInt64) {
    lastReplyAt = now
    unresponsive = false
  }

  /// A command sent at `sentAt` timed out.
  func commandTimedOut(sentAt: UInt64) {
    if sentAt >= lastReplyAt { unresponsive = true }
  }

  /// A connection was lost and is reconnecting: its replies will not come, so they cannot lift
  /// the flag; a fresh connection's handshake reply will.
  func connectionReady(at now: UInt64) {
    replyArrived(at: now)
  }
}
