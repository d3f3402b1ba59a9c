#if canImport(Glibc)
  import Glibc
#endif

/// The process's open-files limit against the connections it is asked to hold: every client
/// connection, Redis connection, listener and loop takes a descriptor.
enum OpenFileLimit {
  /// Descriptors the server needs besides client and Redis connections (loops' epoll, eventfd
  /// and timerfd, listeners, the spare for EMFILE, logs, its own redis-server's pipes).
  static let reserve = 64

  /// Raises the soft limit to the hard one and returns the resulting soft limit (nil when it
  /// cannot be read).
  static func raise() -> Int? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)  // rlim_t.max: RLIM_INFINITY
  }

  /// The most client connections that fit in `limit` descriptors next to `redisConnections`.
  static func connectionsThatFit(limit: Int, redisConnections: Int) -> Int {
    limit == Int.max ? Int.max : limit - redisConnections - reserve
  }
}
