import CHiredis
import Logging
import Reactor
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Hears which keys under some prefixes change in Redis (Redis 6+ client-side caching:
/// `CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX ...` on a connection subscribed to
/// `__redis__:invalidate`), so a cache may keep those keys until they change instead of for a
/// short TTL. Redis sends one message per prefix per event-loop pass, listing every key that
/// changed (written, deleted, expired); a FLUSHALL arrives as a message without keys.
///
/// One blocking hiredis connection on a thread of its own, sleeping in `poll`: it never shares
/// a loop with requests, and it is one connection beside the pool (not one of its 50). It
/// pings every second and counts the connection lost when Redis has been silent for
/// `stallTimeout`; then it reconnects with the pool's backoff.
///
/// `ticket` says whether invalidations are being heard, and since when: a cache takes one when a
/// fetch starts and keeps the fetched value long only if `isUnbroken(since:)` still holds when
/// it stores it (under the lock its `reset` also takes), so a value read while a message may
/// have been lost is never kept long.
///
/// With `Registration.byWriter`, the listener only subscribes: the connection that writes the
/// keys registers tracking with `REDIRECT <redirectTarget> ... NOLOOP` (so its own writes,
/// which it applies to the cache itself, are not sent back) and reports it with
/// `registrationConfirmed(for:fresh:)`; invalidations count as heard only from then on.
public final class RedisInvalidationListener: Sendable {
  /// Who turns tracking on.
  public enum Registration: Sendable {
    /// The listener's own connection, for every writer's changes.
    case own
    /// Another connection, redirecting to this one (see the type's comment).
    case byWriter
  }

  /// What the listener tells its cache.
  public struct Handlers: Sendable {
    /// Keys that changed, one message's worth.
    public var keysChanged: @Sendable ([[UInt8]]) -> Void
    /// Forget everything under the prefixes: messages may have been missed (the connection was
    /// lost) or everything changed (FLUSHALL). Called after the ticket has moved on.
    public var reset: @Sendable () -> Void

    public init(
      keysChanged: @escaping @Sendable ([[UInt8]]) -> Void, reset: @escaping @Sendable () -> Void
    ) {
      self.keysChanged = keysChanged
      self.reset = reset
    }
  }

  private let configuration: RedisConfiguration
  private let prefixes: [String]
  private let handlers: Handlers
  /// generation × 2 + (1 while listening). A new generation starts whenever messages may have
  /// been missed.
  private let state = Atomic<Int>(0)
  private let stopped = Atomic<Bool>(false)
  /// Invalidation messages and keys heard, connections made (for metrics).
  private let counters = Mutex<(messages: Int, keys: Int, connections: Int)>((0, 0, 0))
  public let registration: Registration
  /// The subscribed connection's client id (0 while there is none). Changed, and compared by
  /// `registrationConfirmed`, under this lock.
  private let subscribedID = Mutex<Int>(0)

  public init(
    configuration: RedisConfiguration, prefixes: [String], registration: Registration = .own, handlers: Handlers
  ) {
    self.configuration = configuration
    self.prefixes = prefixes
    self.registration = registration
    self.handlers = handlers
  }

  /// The client id a writer's `CLIENT TRACKING ... REDIRECT` names: the subscribed connection's,
  /// nil while not subscribed.
  public var redirectTarget: Int? {
    let id = subscribedID.withLock { $0 }
    return id == 0 ? nil : id
  }

  /// A writer's tracking registration redirecting to `clientID` is in place (`Registration.byWriter`).
  /// `fresh`: Redis accepted it just now (it was not registered before): if invalidations counted
  /// as heard, some may have been lost while it was not registered (the writer's connection was
  /// made again), so a new generation starts and the cache forgets what it kept.
  /// Ignored when `clientID` is no longer the subscribed connection.
  public func registrationConfirmed(for clientID: Int, fresh: Bool) {
    let broken = subscribedID.withLock { current -> Bool in
      guard current == clientID, current != 0, !stopped.load(ordering: .acquiring) else { return false }
      // Compare-and-exchange: the listening thread may mark the ticket lost meanwhile.
      var before = state.load(ordering: .acquiring)
      while true {
        let listening = before & 1 == 1
        if listening && !fresh { return false }
        let (exchanged, original) = state.compareExchange(
          expected: before, desired: before + (listening ? 2 : 1), ordering: .acquiringAndReleasing)
        if exchanged { return listening }
        before = original
      }
    }
    if broken { handlers.reset() }
  }

  /// The current ticket: compare it with `isUnbroken(since:)` later.
  @inline(__always)
  public var ticket: Int { state.load(ordering: .acquiring) }

  /// True when invalidations were heard without a break from `ticket` until now.
  @inline(__always)
  public func isUnbroken(since ticket: Int) -> Bool {
    ticket & 1 == 1 && state.load(ordering: .acquiring) == ticket
  }

  /// Whether invalidations are heard now (subscribed, and with `.byWriter`, registered).
  public var isListening: Bool { ticket & 1 == 1 }

  /// Messages and keys heard, and connections made, since start.
  public var statistics: (messages: Int, keys: Int, connections: Int) { counters.withLock { $0 } }

  public func start() throws {
    try startBackgroundThread { [self] in run() }
  }

  /// Stops within a poll interval; the cache should stop trusting tickets (they are broken).
  public func stop() {
    stopped.store(true, ordering: .releasing)
    lost()
  }

  // MARK: The listening thread

  private static let pollMilliseconds: Int32 = 200
  private static let pingInterval: UInt64 = 1_000_000_000

  private func run() {
    var delay = max(0.01, configuration.reconnectBaseDelay)
    var lastProblem = ""
    while !stopped.load(ordering: .acquiring) {
      switch connect() {
      case .success(let connection):
        lastProblem = ""
        delay = max(0.01, configuration.reconnectBaseDelay)
        listen(connection)
        subscribedID.withLock { $0 = 0 }
        if !stopped.load(ordering: .acquiring) {
          redisLogger.warning("lost the Redis invalidation connection; reconnecting")
        }
      case .failure(let problem):
        // Logged when it changes, not on every retry.
        if problem.description != lastProblem {
          redisLogger.warning(
            "cannot listen for Redis invalidations; cached keys under the tracked prefixes expire early meanwhile",
            metadata: ["error": "\(problem.description)"])
          lastProblem = problem.description
        }
      }
      lost()
      sleep(seconds: delay * Double.random(in: 0.5...1))
      delay = min(max(0.01, configuration.reconnectMaxDelay), delay * 2)
    }
  }

  /// Marks the ticket broken (a new generation, not listening) and tells the cache.
  private func lost() {
    // Compare-and-exchange: `stop` may call this from another thread while the listener does.
    var before = state.load(ordering: .acquiring)
    while before & 1 == 1 {
      let (exchanged, original) = state.compareExchange(
        expected: before, desired: before + 1, ordering: .acquiringAndReleasing)
      if exchanged { return handlers.reset() }
      before = original
    }
  }

  private func sleep(seconds: Double) {
    let end = monotonicNanoseconds() &+ nanoseconds(fromSeconds: seconds)
    while !stopped.load(ordering: .acquiring) && monotonicNanoseconds() < end {
      usleep(UInt32(min(Double(Self.pollMilliseconds) * 1000, max(1, Double(end &- monotonicNanoseconds()) / 1000))))
    }
  }

  /// Connects, turns tracking on and subscribes; listening when it returns.
  private func connect() -> Result<RedisBlockingConnection, RedisBlockingConnection.Failure> {
    do {
      // Tracking covers every database: no SELECT.
      let connection = try RedisBlockingConnection(configuration: configuration, select: false)
      guard case .integer(let id) = try connection.command(["CLIENT", "ID"]) else {
        throw RedisBlockingConnection.Failure(description: "CLIENT ID did not answer an integer")
      }
      if registration == .own {
        var tracking = ["CLIENT", "TRACKING", "ON", "REDIRECT", String(id), "BCAST"]
        for prefix in prefixes { tracking += ["PREFIX", prefix] }
        try connection.command(tracking)
      }
      try connection.command(["SUBSCRIBE", "__redis__:invalidate"])
      subscribedID.withLock { current in
        current = Int(clamping: id)
        // With a writer registering, listening starts when it says so.
        if registration == .own { state.store(state.load(ordering: .acquiring) | 1, ordering: .releasing) }
      }
      counters.withLock { $0.connections += 1 }
      return .success(connection)
    } catch let failure as RedisBlockingConnection.Failure {
      return .failure(failure)
    } catch {
      return .failure(RedisBlockingConnection.Failure(description: "\(error)"))
    }
  }

  private static let ping = RedisCommand("PING")

  /// Reads messages until the connection fails, goes silent or the listener stops.
  private func listen(_ connection: RedisBlockingConnection) {
    var heard = monotonicNanoseconds()
    var pinged = heard
    let silence = nanoseconds(fromSeconds: max(configuration.stallTimeout, 2))
    var descriptor = pollfd(fd: connection.descriptor, events: Int16(POLLIN), revents: 0)
    while !stopped.load(ordering: .acquiring) {
      let ready = poll(&descriptor, 1, Self.pollMilliseconds)
      if ready < 0 && errno != EINTR { return }
      let now = monotonicNanoseconds()
      if ready > 0 {
        guard connection.readAvailable() else { return }
        heard = now
        do {
          while try connection.withBufferedReply({ handle($0) }) != nil {}
        } catch {
          return
        }
      }
      if now &- heard > silence { return }
      if now &- pinged >= Self.pingInterval {
        pinged = now
        connection.append(Self.ping)
        guard (try? connection.flush()) != nil else { return }
      }
    }
  }

  /// One pushed message: `message`, the channel, then the keys (or nil for a flush).
  private func handle(_ reply: UnsafePointer<redisReply>) {
    guard reply.pointee.type == REDIS_REPLY_ARRAY, reply.pointee.elements == 3,
      let parts = reply.pointee.element, let kind = parts[0], kind.pointee.type == REDIS_REPLY_STRING,
      kind.pointee.len == 7, memcmp(kind.pointee.str, "message", 7) == 0, let payload = parts[2]
    else { return }  // the subscription's confirmation, or a PING's answer
    switch payload.pointee.type {
    case REDIS_REPLY_ARRAY:
      var keys: [[UInt8]] = []
      keys.reserveCapacity(payload.pointee.elements)
      for position in 0..<payload.pointee.elements {
        guard let element = payload.pointee.element[position], element.pointee.type == REDIS_REPLY_STRING,
          let bytes = element.pointee.str
        else { continue }
        keys.append(
          Array(UnsafeRawBufferPointer(start: bytes, count: element.pointee.len).bindMemory(to: UInt8.self)))
      }
      counters.withLock {
        $0.messages += 1
        $0.keys += keys.count
      }
      handlers.keysChanged(keys)
    case REDIS_REPLY_NIL:
      // FLUSHALL / FLUSHDB: everything changed. A new generation first, so a fetch under way
      // does not keep what it read.
      counters.withLock { $0.messages += 1 }
      state.add(2, ordering: .acquiringAndReleasing)
      handlers.reset()
    default:
      return
    }
  }
}
