import RedisPool

/// One event to store for one entity.
struct WindowEventWrite {
  /// The entity's events hash (`<prefix>:win:{<entity>:<id>}`).
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
/// once), drops the events every window has passed, bounds the hash and renews its TTL.
///
/// Several events go in one script call (up to `eventsPerCall`): a call per event spent about
/// half of Redis's time on script invocation alone. Calls stay small because Redis runs a
/// script to its end before serving anyone else: 16 events hold it for about 150 µs, not the
/// milliseconds a whole batch would (measured: 64 per call put a request's p99 at 5x). On a cluster a call's keys must share a slot, so
/// events are grouped by their entity's slot.
struct WindowEventWriter {
  let maxEventsPerEntity: Int
  /// Events per script call.
  static let eventsPerCall = 16

  /// Replies: an array with, per event, 0 duplicate, 1 stored, 2 + n stored and n old events
  /// of its entity evicted by the bound.
  ///
  /// Events every window has passed are dropped by a scan of the hash each time it grows by
  /// another 32 events, not through a time index: an index (a sorted set beside the hash) cost
  /// more Redis time per event than the event itself. Past `maxEvents`, the oldest sixteenth
  /// goes at once, so a hot key sorts its events once per many writes, not on every one.
  static let script = """
    local maxEvents = tonumber(ARGV[1])
    local results = {}
    for i = 1, #KEYS do
      local hash = KEYS[i]
      local a = 1 + (i - 1) * 5
      local result = redis.call('HSETNX', hash, ARGV[a + 1], ARGV[a + 2])
      if result == 1 then
        local size = redis.call('HLEN', hash)
        if size % 32 == 0 or size > maxEvents then
          local pruneBefore = tonumber(ARGV[a + 4])
          local flat = redis.call('HGETALL', hash)
          local old, kept = {}, {}
          for j = 1, #flat, 2 do
            local time = tonumber(string.match(flat[j + 1], '^%-?%d+'))
            if time == nil or time < pruneBefore then
              old[#old + 1] = flat[j]
            else
              kept[#kept + 1] = {time, flat[j]}
            end
          end
          if #kept > maxEvents then
            table.sort(kept, function(x, y) return x[1] < y[1] end)
            local over = #kept - maxEvents + math.floor(maxEvents / 16)
            for k = 1, over do old[#old + 1] = kept[k][2] end
            result = 2 + over
          end
          for k = 1, #old, 1000 do
            redis.call('HDEL', hash, unpack(old, k, math.min(#old, k + 999)))
          end
        end
      end
      redis.call('PEXPIRE', hash, ARGV[a + 5])
      results[i] = result
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
        scriptSHA1 == nil ? Self.eval : Self.evalsha, scriptSHA1 ?? Self.scriptBytes, Array(String(group.count).utf8),
      ]
      arguments.reserveCapacity(4 + 6 * group.count)
      for position in group { arguments.append(writes[position].hashKey) }
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
}
