import Atomics
import Logging
import Reactor
import RedisPool

/// Puts the stream consumer's own event writes into the shared cache, so an entity whose events
/// arrive every fraction of a second stays a cache hit instead of being read again from Redis
/// after each one (while ingesting, about three GETs in four missed for that reason).
///
/// How it stays what Redis holds: the consumer stores events through one connection of its own
/// (`writer`), on which tracking is registered as `CLIENT TRACKING ON REDIRECT <listener>
/// BCAST PREFIX <events prefix> NOLOOP`. Redis then tells the listener of every change to
/// events hashes except this connection's own, and those the consumer applies to the cache
/// itself, in the order Redis ran them (one MULTI block at a time on one connection), from each
/// write's reply: the hash's field count after it, which says whether the cached copy plus the
/// event is what Redis holds (`FeatureCache.applyOwnWrite`); if not, the copy goes.
///
/// The registration is checked as the stream is polled (`keepRegistered`): a fresh one
/// (the writer's connection was made again, so changes by others may have gone unheard) starts
/// a new invalidation generation, which drops the cached events. Known gap, Redis's own: a
/// key changed by another client and by this one in the same pass of Redis's event loop is
/// reported to nobody (NOLOOP remembers the last writer of a key per pass); the field count
/// catches it unless the other change also removed exactly as many events as it added, and
/// the cache's TTL bounds it.
final class WindowCacheWriteThrough: @unchecked Sendable {  // its state is touched on the consumer's loop only
  let cache: SharedFeatureCache
  let listener: RedisInvalidationListener
  /// The consumer's one writing connection.
  let writer: RedisLoopPool
  /// Per `FeatureCache.OwnWriteOutcome`: own writes applied to, dropped from, or absent in the cache.
  let outcomes: [ManagedAtomic<Int>] = FeatureCache.OwnWriteOutcome.allCases.map { _ in ManagedAtomic(0) }
  private let prefix: [UInt8]
  /// The listener connection the registration redirects to, as last confirmed.
  private var registeredFor: Int? = nil
  private var checking = false
  private var lastCheck: UInt64 = 0
  private var loggedProblem = false
  /// ns between checks of the registration: how long a writer connection made again may go
  /// unnoticed (changes by others unheard meanwhile), against a command per check.
  static let checkInterval: UInt64 = 20_000_000

  init(cache: SharedFeatureCache, listener: RedisInvalidationListener, writer: RedisLoopPool, prefix: [UInt8]) {
    self.cache = cache
    self.listener = listener
    self.writer = writer
    self.prefix = prefix
  }

  /// Makes sure the writer's tracking registration is in place and redirects to the listener's
  /// current connection: one check in flight at a time, at most every `checkInterval`. A check
  /// asks `CLIENT TRACKINGINFO` (not a second `TRACKING ON`, whose refusal would count as an
  /// error reply in Redis's statistics hundreds of times a second); a registration found gone
  /// is made again, as fresh.
  func keepRegistered() {
    guard !checking, writer.loop.now &- lastCheck >= Self.checkInterval else { return }
    guard let target = listener.redirectTarget else {
      registeredFor = nil
      return
    }
    checking = true
    lastCheck = writer.loop.now
    guard registeredFor == target else { return register(redirectingTo: target) }
    writer.send(viewing: RedisCommand(arguments: [Self.client, Self.trackingInfo])) { [self] result in
      checking = false
      if case .success(let reply) = result, Self.isRegistered(reply, redirectingTo: target) {
        listener.registrationConfirmed(for: target, fresh: false)
      } else {
        registeredFor = nil  // gone (the connection was made again): registered afresh next
      }
    }
  }

  /// OFF (a registration that names another listener connection goes), then ON.
  private func register(redirectingTo target: Int) {
    let on = RedisCommand(arguments: [
      Self.client, Self.tracking, Self.on, Self.redirect, Array(String(target).utf8), Self.bcast, Self.prefixWord,
      prefix, Self.noloop,
    ])
    writer.send(batch: [RedisCommand(arguments: [Self.client, Self.tracking, Self.off]), on]) { [self] results in
      checking = false
      switch results.last! {
      case .success(.status):
        registeredFor = target
        // Fresh: while it was not registered, changes by others went unheard.
        listener.registrationConfirmed(for: target, fresh: true)
        loggedProblem = false
      case .success(.error(let text)) where text.contains("does not exist"):
        registeredFor = nil  // the listener's connection was made again: the next check names it
      case let other:
        registeredFor = nil
        guard !loggedProblem else { return }
        loggedProblem = true
        streamLogger.warning(
          "cannot register the stream writer's tracking; cached window events expire early meanwhile",
          metadata: ["redis": "\(String(describing: other).prefix(300))"])
      }
    }
  }

  /// Whether a `CLIENT TRACKINGINFO` reply (`flags [...] redirect <id> prefixes [...]`) says
  /// tracking is on and redirects to `target`.
  static func isRegistered(_ reply: RedisReplyView, redirectingTo target: Int) -> Bool {
    guard reply.kind == .array else { return false }
    var on = false
    var redirect: Int64 = -1
    var index = 0
    while index + 1 < reply.count, let name = reply[index], let value = reply[index + 1] {
      if name.bytes.elementsEqual("flags".utf8) {
        for position in 0..<value.count where value[position]?.bytes.elementsEqual("on".utf8) == true { on = true }
      } else if name.bytes.elementsEqual("redirect".utf8), value.kind == .integer {
        redirect = value.integer
      }
      index += 2
    }
    return on && redirect == Int64(target)
  }

  /// Applies stored writes to the cache, in the order Redis ran them: `length` is the hash's
  /// field count after the write, nil when its outcome is unknown (a failed call).
  func apply(_ write: WindowEventWrite, length: Int?) {
    let outcome = cache.applyOwnWrite(RowKey(write.hashKey), event: write.event, length: length, now: writer.loop.now)
    outcomes[outcome.rawValue].wrappingIncrement(ordering: .relaxed)
  }

  private static let client = Array("CLIENT".utf8)
  private static let tracking = Array("TRACKING".utf8)
  private static let on = Array("ON".utf8)
  private static let off = Array("OFF".utf8)
  private static let trackingInfo = Array("TRACKINGINFO".utf8)
  private static let redirect = Array("REDIRECT".utf8)
  private static let bcast = Array("BCAST".utf8)
  private static let prefixWord = Array("PREFIX".utf8)
  private static let noloop = Array("NOLOOP".utf8)
}
