import RedisPool

/// Reads an entity's recent events (HVALS) (`<prefix>:win:{<entity>:<id>}`, see `StoredWindowEvents`)
/// for its window features. A window feature must show an event within a fraction of a second
/// of its arrival, so the cache keeps the events only until they change: for the cache's TTL
/// while Redis's invalidations are heard without a break since the read (`tracking`), else
/// briefly (`--window-cache-ttl`).
final class WindowEventsSource: RowSource {
  let entity: EntityDefinition
  let position: Int
  /// ns kept when invalidations are not heard.
  let shortLifetime: UInt64
  /// ns kept while they are: the cache's row TTL, for an entity without events too (not the
  /// negative TTL: an entity with no recent events is the common case, not a wrong id).
  let trackedLifetime: UInt64
  /// Hears which events hashes changed; nil: none (a cluster, or turned off).
  let tracking: RedisInvalidationListener?
  var name: String { entity.name }

  init(
    entity: EntityDefinition, position: Int, cacheLifetime: UInt64, trackedLifetime: UInt64,
    tracking: RedisInvalidationListener?
  ) {
    self.entity = entity
    self.position = position
    shortLifetime = cacheLifetime
    self.trackedLifetime = trackedLifetime
    self.tracking = tracking
  }

  var fetchTicket: Int { tracking?.ticket ?? 0 }

  func cacheLifetime(since ticket: Int) -> UInt64? {
    guard let tracking, tracking.isUnbroken(since: ticket) else { return shortLifetime }
    return trackedLifetime
  }

  /// While Redis's invalidations are heard, an entity's events stay cached for the row TTL and a
  /// hit near its end re-reads them in the background (the consumer's own writes reach the cache
  /// directly, `WindowCacheWriteThrough`, and a re-read under way when one does is not kept), so
  /// an entity read steadily is never a miss for its events. Without them the short lifetime
  /// ends before a refresh would help.
  var refreshesAhead: Bool { tracking != nil }

  func errorLabel(nativeEntityCount: Int) -> Int { position }

  func readCommand(_ key: RowKey) -> RedisCommand {
    // The values hold all a window needs; the fields (transaction ids) are only for idempotence.
    RedisCommand(Self.hvals, key: key.bytes)
  }

  func decode(_ reply: RedisReplyView) -> RowDecoding {
    guard reply.kind == .array else { return .invalid(detail: NativeRowSource.describe(reply)) }
    // No events: counts of 0. Kept in the cache's negative ring, so a flood of unknown ids
    // cannot evict rows through their (empty) events.
    guard reply.count > 0 else { return .missing }
    let events = StoredWindowEvents(values: reply)
    return .row(.windowEvents(events), decodeErrors: events.decodeErrors)
  }

  /// Its lookups are part of a row's read, not reads of their own: kept out of the cache's
  /// request metrics (and `X-Cache` is the row's).
  var countsInCacheMetrics: Bool { false }

  private static let hvals = RedisCommand.OneKeyHead("HVALS")
}
