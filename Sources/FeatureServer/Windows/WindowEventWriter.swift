import RedisPool

/// One event to store for one entity.
struct WindowEventWrite {
  /// The entity's events hash (`<prefix>:win:{<entity>:<id>}`); its time index is `…:t`.
  let hashKey: [UInt8]
  let transactionID: [UInt8]
  let storedValue: [UInt8]
  let time: Int64
  /// Events older than this are closed in every window: nothing reads them again.
  let pruneBefore: Int64
  let ttlMilliseconds: Int64
}

/// Builds the commands that store events: a Lua script that adds each event to its entity's
/// events hash unless its transaction id is there already (so a re-delivered entry counts
/// once), indexes it by time, drops the events every window has passed, bounds the hash and
/// renews both keys' TTL.
///
/// Several events go in one script call (up to `eventsPerCall`): a call per event spent about
/// half of Redis's time on script invocation alone. Calls stay small because Redis runs a
/// script to its end before serving anyone else: 16 events hold it for about 150 µs, not the
/// milliseconds a whole batch would (measured: 64 per call put a request's p99 at 5x). On a cluster a call's keys must share a slot, so
/// events are grouped by their entity's slot (the hash and its index share a hash tag).
struct WindowEventWriter {
  let maxEventsPerEntity: Int
  /// Events per script call.
  static let eventsPerCall = 16

  /// Replies: an array with, per event, 0 duplicate, 1 stored, 2 stored and the oldest event
  /// of its entity evicted.
  static let script = """
    local maxEvents = tonumber(ARGV[1])
    local results = {}
    for i = 1, #KEYS / 2 do
      local hash, index = KEYS[2 * i - 1], KEYS[2 * i]
      local a = 1 + (i - 1) * 5
      local added = redis.call('HSETNX', hash, ARGV[a + 1], ARGV[a + 2])
      if added == 1 then redis.call('ZADD', index, ARGV[a + 3], ARGV[a + 1]) end
      local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[a + 4], 'LIMIT', 0, 64)
      if #old > 0 then
        redis.call('HDEL', hash, unpack(old))
        redis.call('ZREM', index, unpack(old))
      end
      local evicted = 0
      if added == 1 and redis.call('ZCARD', index) > maxEvents then
        local oldest = redis.call('ZPOPMIN', index)
        redis.call('HDEL', hash, oldest[1])
        evicted = 1
      end
      redis.call('PEXPIRE', hash, ARGV[a + 5])
      redis.call('PEXPIRE', index, ARGV[a + 5])
      results[i] = added + 2 * evicted
    end
    return results
    """
  static let scriptBytes = Array(script.utf8)

  /// The event to store for entity `id` that arrived under `watermark`.
  static func write(
    registry: Registry, entity: EntityDefinition, windows: WindowFeatureSet, id: String, event: WindowEvent,
    watermark: Int64?
  ) -> WindowEventWrite {
    WindowEventWrite(
      hashKey: Array(registry.windowEventsKey(entity: entity.name, id: id).utf8),
      transactionID: Array((event.transactionID ?? "").utf8),
      storedValue: StoredWindowEvents.encode(time: event.time, value: event.value, cutoff: watermark),
      time: event.time,
      pruneBefore: (watermark ?? Int64.min / 2) - windows.horizon,
      // Keys live until every window an event of now could be in has closed, measured from
      // now (the read side serves windows at wall-clock time).
      ttlMilliseconds: (windows.horizon + windows.delay) / 1000 + 1000)
  }

  /// The script calls storing `writes` in order (per entity, order is what matters: an entity's
  /// events stay in one group): EVALSHA with the script's SHA-1 when known, else EVAL with its
  /// body (which also loads it on that node). Each call lists the positions of its writes.
  func commands(_ writes: [WindowEventWrite], cluster: Bool, scriptSHA1: [UInt8]?) -> [(RedisCommand, [Int])] {
    var groups: [[Int]] = []
    if cluster {
      var bySlot: [UInt16: Int] = [:]
      for (position, write) in writes.enumerated() {
        let slot = ClusterSlot.of(write.hashKey)
        if let group = bySlot[slot], groups[group].count < Self.eventsPerCall {
          groups[group].append(position)
        } else {
          bySlot[slot] = groups.count
          groups.append([position])
        }
      }
    } else {
      groups = stride(from: 0, to: writes.count, by: Self.eventsPerCall).map {
        Array($0..<min(writes.count, $0 + Self.eventsPerCall))
      }
    }
    let head = Array(String(maxEventsPerEntity).utf8)
    return groups.map { group in
      var arguments: [[UInt8]] = [
        scriptSHA1 == nil ? Self.eval : Self.evalsha, scriptSHA1 ?? Self.scriptBytes,
        Array(String(2 * group.count).utf8),
      ]
      arguments.reserveCapacity(4 + 7 * group.count)
      for position in group {
        arguments.append(writes[position].hashKey)
        arguments.append(writes[position].hashKey + Self.indexSuffix)
      }
      arguments.append(head)
      for position in group {
        let write = writes[position]
        arguments.append(write.transactionID)
        arguments.append(write.storedValue)
        arguments.append(Array(String(write.time).utf8))
        arguments.append(Array(String(write.pruneBefore).utf8))
        arguments.append(Array(String(write.ttlMilliseconds).utf8))
      }
      return (RedisCommand(arguments: arguments), group)
    }
  }

  private static let eval = Array("EVAL".utf8)
  private static let evalsha = Array("EVALSHA".utf8)
  private static let indexSuffix = Array(":t".utf8)
}
