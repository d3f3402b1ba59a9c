import RedisPool

/// Reads an entity's recent events (`<prefix>:win:{<entity>:<id>}`, see `StoredWindowEvents`)
/// for its window features. Kept in the cache only briefly (`--window-cache-ttl`): a window
/// feature must show an event within a fraction of a second of its arrival.
final class WindowEventsSource: RowSource {
  let entity: EntityDefinition
  let position: Int
  let cacheLifetime: UInt64?
  var name: String { entity.name }

  init(entity: EntityDefinition, position: Int, cacheLifetime: UInt64) {
    self.entity = entity
    self.position = position
    self.cacheLifetime = cacheLifetime
  }

  func errorLabel(nativeEntityCount: Int) -> Int { position }

  func readCommand(_ key: RowKey) -> RedisCommand {
    RedisCommand(arguments: [Self.hgetall, key.bytes])
  }

  func decode(_ reply: RedisReplyView) -> RowDecoding {
    guard reply.kind == .array else { return .invalid(detail: NativeRowSource.describe(reply)) }
    // No events is a valid state (counts of 0), not a missing instance.
    let events = StoredWindowEvents(hash: reply)
    return .row(.windowEvents(events), decodeErrors: events.decodeErrors)
  }

  private static let hgetall = Array("HGETALL".utf8)
}
