import RedisPool

/// Builds the command that stores one event of an entity: a Lua script that adds it to the
/// entity's events hash unless its transaction id is there already (so a re-delivered entry
/// counts once), indexes it by time, drops the events every window has passed, bounds the
/// hash, and renews both keys' TTL. Both keys share a hash tag, so a cluster runs it on one node.
struct WindowEventWriter {
  let registry: Registry
  let maxEventsPerEntity: Int

  /// Replies: 0 duplicate, 1 stored, 2 stored and the oldest event evicted.
  static let script = """
    local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
    if added == 1 then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
    local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 64)
    if #old > 0 then
      redis.call('HDEL', KEYS[1], unpack(old))
      redis.call('ZREM', KEYS[2], unpack(old))
    end
    local evicted = 0
    if redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[6]) then
      local oldest = redis.call('ZPOPMIN', KEYS[2])
      redis.call('HDEL', KEYS[1], oldest[1])
      evicted = 1
    end
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
    return added + 2 * evicted
    """
  static let scriptBytes = Array(script.utf8)

  /// The command storing `event` for entity `id` that arrived under `watermark`: EVALSHA with
  /// the script's SHA-1 (from SCRIPT LOAD) when known, else EVAL with its body (which also loads
  /// it on that node).
  func command(
    entity: EntityDefinition, windows: WindowFeatureSet, id: String, event: WindowEvent, watermark: Int64?,
    scriptSHA1: [UInt8]?
  ) -> RedisCommand {
    let hash = registry.windowEventsKey(entity: entity.name, id: id)
    // Events older than this are closed in every window: nothing reads them again.
    let pruneBefore = (watermark ?? Int64.min / 2) - windows.horizon
    // Keys live until every window an event of now could be in has closed, measured from now
    // (the read side serves windows at wall-clock time).
    let ttlMilliseconds = (windows.horizon + windows.delay) / 1000 + 1000
    return RedisCommand(arguments: [
      scriptSHA1 == nil ? Self.eval : Self.evalsha, scriptSHA1 ?? Self.scriptBytes, Self.two,
      Array(hash.utf8), Array((hash + ":t").utf8),
      Array((event.transactionID ?? "").utf8),
      StoredWindowEvents.encode(time: event.time, value: event.value, cutoff: watermark),
      Array(String(event.time).utf8), Array(String(pruneBefore).utf8), Array(String(ttlMilliseconds).utf8),
      Array(String(maxEventsPerEntity).utf8),
    ])
  }

  private static let eval = Array("EVAL".utf8)
  private static let evalsha = Array("EVALSHA".utf8)
  private static let two = Array("2".utf8)
}
