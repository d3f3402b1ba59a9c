import RedisPool

/// One event to store for one entity.
struct WindowEventWrite {
  /// The entity's events hash (`<prefix>:win:{<entity>:<id>}`).
  let hashKey: [UInt8]
  let transactionID: [UInt8]
  let storedValue: [UInt8]
  /// The event as a read of the hash gives it to the cache (`storedValue` decoded, so the two
  /// cannot differ in a digit); nil if it would not decode (then a read counts it as bad).
  let event: StoredWindowEvents.Event?
  /// Events older than this are closed in every window: nothing reads them again.
  let pruneBefore: Int64
  let ttlMilliseconds: Int64
}

/// Builds the commands that store events: each event goes into its entity's events hash unless
/// its transaction id is there already (so a re-delivered entry counts once), and renews the
/// hash's TTL; the hash's field count after it comes back. Events every window has passed are
/// dropped, and the hash bounded, by a separate prune step when that count says so.
///
/// On a single Redis a call is a MULTI/EXEC block of plain commands (HSETNX, HLEN, PEXPIRE per
/// event): Redis's tracking leaves a connection's own writes out of its invalidations (NOLOOP)
/// for plain commands but not for writes made inside a script (Redis 7.0), and the write-through
/// cache needs exactly that (`WindowCacheWriteThrough`). On a cluster a MULTI cannot be routed
/// with its commands, so a call is one script (`storeScript`) over keys of one slot.
///
/// Several events go in one call (up to `eventsPerCall`): a script call per event spent about
/// half of Redis's time on script invocation alone. Calls stay small because Redis runs a call
/// to its end before serving anyone else: 16 events hold it for about 150 µs, not the
/// milliseconds a whole batch would (measured: 64 per call put a request's p99 at 5x).
struct WindowEventWriter {
  let maxEventsPerEntity: Int
  /// Events per call.
  static let eventsPerCall = 16

  /// One store call: its commands (a MULTI block, or one script call) and the positions of the
  /// writes it stores, in order.
  struct Call {
    let commands: [RedisCommand]
    let positions: [Int]
  }

  /// What a call did with one event: stored (else a duplicate), and the hash's field count then.
  struct Stored {
    let isNew: Bool
    let fields: Int
  }

  /// What a call did with each of its events, and the events its prune steps dropped by the
  /// bound; or why it failed.
  typealias Outcome = Result<(stored: [Stored], evicted: Int), CallFailure>

  enum CallFailure: Error {
    /// A node does not know the store script (restarted, or another cluster node).
    case noScript
    case failed(RedisResult)
  }

  /// Cluster only. KEYS: the events hashes; ARGV: per event, transaction id, stored value, TTL ms.
  /// Replies two numbers per event: 1 stored or 0 duplicate, then the hash's field count.
  static let storeScript = """
    local results = {}
    for i = 1, #KEYS do
      local hash = KEYS[i]
      local a = (i - 1) * 3
      results[2 * i - 1] = redis.call('HSETNX', hash, ARGV[a + 1], ARGV[a + 2])
      results[2 * i] = redis.call('HLEN', hash)
      redis.call('PEXPIRE', hash, ARGV[a + 3])
    end
    return results
    """
  static let storeScriptBytes = Array(storeScript.utf8)

  /// KEYS[1]: an events hash; ARGV: the most events it keeps, and the time before which every
  /// window has passed an event. Drops those events with a scan of the hash (an index beside
  /// it, a sorted set, cost more Redis time per event than the event itself), and past the
  /// bound the oldest events and a sixteenth more at once, so a hot key sorts its events once
  /// per many writes, not on every one. Replies the events dropped by the bound.
  static let pruneScript = """
    local hash = KEYS[1]
    local maxEvents = tonumber(ARGV[1])
    local pruneBefore = tonumber(ARGV[2])
    local flat = redis.call('HGETALL', hash)
    local old, kept = {}, {}
    local evicted = 0
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
      evicted = #kept - maxEvents + math.floor(maxEvents / 16)
      for k = 1, evicted do old[#old + 1] = kept[k][2] end
    end
    for k = 1, #old, 1000 do
      redis.call('HDEL', hash, unpack(old, k, math.min(#old, k + 999)))
    end
    return evicted
    """
  static let pruneScriptBytes = Array(pruneScript.utf8)

  /// Whether the hash `write` went into, holding `fields` after it, is pruned: each time it
  /// grows by another 32 events, and whenever it is over the bound. Where in the 32 depends on
  /// the key, so entities whose events arrive together (a backlog, a steady stream over many
  /// customers) do not all prune in the same second: in lockstep, 10 000 prunes at once held
  /// Redis for hundreds of milliseconds (bench/stream.sh's lag p99).
  func needsPruning(_ write: WindowEventWrite, fields: Int) -> Bool {
    (fields &+ Int(ClusterSlot.of(write.hashKey))) % 32 == 0 || fields > maxEventsPerEntity
  }

  /// The event to store for entity `id` that arrived under `watermark`.
  static func write(
    registry: Registry, entity: EntityDefinition, windows: WindowFeatureSet, id: String, event: WindowEvent,
    watermark: Int64?
  ) -> WindowEventWrite {
    let storedValue = StoredWindowEvents.encode(time: event.time, value: event.value, cutoff: watermark)
    return WindowEventWrite(
      hashKey: Array(registry.windowEventsKey(entity: entity.name, id: id).utf8),
      transactionID: Array((event.transactionID ?? "").utf8),
      storedValue: storedValue,
      event: storedValue.withUnsafeBytes { StoredWindowEvents.decode($0).map(StoredWindowEvents.Event.init) },
      pruneBefore: (watermark ?? Int64.min / 2) - windows.horizon,
      // Keys live until every window an event of now could be in has closed, measured from
      // now (the read side serves windows at wall-clock time).
      ttlMilliseconds: (windows.horizon + windows.delay) / 1000 + 1000)
  }

  /// The calls storing `writes` in order (per entity, order is what matters: an entity's
  /// events stay in one call). On a cluster, one script call per slot's group: EVALSHA with the
  /// script's SHA-1 when known, else EVAL with its body (which also loads it on that node).
  func calls(_ writes: [WindowEventWrite], cluster: Bool, scriptSHA1: [UInt8]?) -> [Call] {
    guard cluster else {
      return stride(from: 0, to: writes.count, by: Self.eventsPerCall).map { first in
        let positions = Array(first..<min(writes.count, first + Self.eventsPerCall))
        var commands = [RedisCommand(arguments: [Self.multi])]
        commands.reserveCapacity(2 + 3 * positions.count)
        for position in positions {
          let write = writes[position]
          commands.append(
            RedisCommand(arguments: [Self.hsetnx, write.hashKey, write.transactionID, write.storedValue]))
          commands.append(RedisCommand(arguments: [Self.hlen, write.hashKey]))
          commands.append(
            RedisCommand(arguments: [Self.pexpire, write.hashKey, Array(String(write.ttlMilliseconds).utf8)]))
        }
        commands.append(RedisCommand(arguments: [Self.exec]))
        return Call(commands: commands, positions: positions)
      }
    }
    var groups: [[Int]] = []
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
    return groups.map { group in
      var arguments: [[UInt8]] = [
        scriptSHA1 == nil ? Self.eval : Self.evalsha, scriptSHA1 ?? Self.storeScriptBytes,
        Array(String(group.count).utf8),
      ]
      arguments.reserveCapacity(3 + 4 * group.count)
      for position in group { arguments.append(writes[position].hashKey) }
      for position in group {
        let write = writes[position]
        arguments.append(write.transactionID)
        arguments.append(write.storedValue)
        arguments.append(Array(String(write.ttlMilliseconds).utf8))
      }
      return Call(commands: [RedisCommand(arguments: arguments)], positions: group)
    }
  }

  /// What a cluster's store-script call did with each of its events, from its reply.
  static func outcome(ofScript call: Call, _ result: RedisResult) -> Outcome {
    switch result {
    case .success(.array(let replies)) where replies.count == 2 * call.positions.count:
      var stored: [Stored] = []
      stored.reserveCapacity(call.positions.count)
      for index in 0..<call.positions.count {
        guard case .integer(let isNew) = replies[2 * index], case .integer(let fields) = replies[2 * index + 1] else {
          return .failure(.failed(result))
        }
        stored.append(Stored(isNew: isNew == 1, fields: Int(clamping: fields)))
      }
      return .success((stored, 0))
    case .success(.error(let text)) where text.hasPrefix("NOSCRIPT"):
      return .failure(.noScript)
    default:
      return .failure(.failed(result))
    }
  }

  /// What a single Redis's call did, from its EXEC reply read in place (no value is built for
  /// each of its 3 replies per event): the prune steps' replies, then HSETNX, HLEN, PEXPIRE per
  /// event.
  static func outcome(ofExec reply: RedisReplyView, _ call: Call, prunes: Int) -> Outcome {
    guard reply.kind == .array, reply.count == prunes + 3 * call.positions.count else {
      return .failure(.failed(.success(.error("EXEC: \(String(decoding: reply.bytes.prefix(200), as: UTF8.self))"))))
    }
    var evicted = 0
    for index in 0..<prunes where reply[index]?.kind == .integer { evicted += Int(clamping: reply[index]!.integer) }
    var stored: [Stored] = []
    stored.reserveCapacity(call.positions.count)
    for index in 0..<call.positions.count {
      let base = prunes + 3 * index
      guard let isNew = reply[base], isNew.kind == .integer, let fields = reply[base + 1], fields.kind == .integer
      else {
        return .failure(.failed(.success(.error("EXEC: an event's replies are not integers"))))
      }
      stored.append(Stored(isNew: isNew.integer == 1, fields: Int(clamping: fields.integer)))
    }
    return .success((stored, evicted))
  }

  /// A single Redis's call with prune steps of earlier calls inside its MULTI block: no round
  /// trip of their own, and Redis is held for one call plus a prune or two, as when the store
  /// script pruned inline.
  func riding(_ prunes: [WindowEventWrite], on call: Call) -> [RedisCommand] {
    guard !prunes.isEmpty else { return call.commands }
    return [call.commands[0]] + prunes.map(prune) + call.commands[1...]
  }

  /// The prune step for the hash `write` went into (EVAL with the body: it runs once per 32
  /// events of an entity, and a node that lost its scripts needs no second try).
  func prune(_ write: WindowEventWrite) -> RedisCommand {
    RedisCommand(arguments: [
      Self.eval, Self.pruneScriptBytes, Self.one, write.hashKey, Array(String(maxEventsPerEntity).utf8),
      Array(String(write.pruneBefore).utf8),
    ])
  }

  private static let eval = Array("EVAL".utf8)
  private static let evalsha = Array("EVALSHA".utf8)
  private static let one = Array("1".utf8)
  private static let multi = Array("MULTI".utf8)
  private static let exec = Array("EXEC".utf8)
  private static let hsetnx = Array("HSETNX".utf8)
  private static let hlen = Array("HLEN".utf8)
  private static let pexpire = Array("PEXPIRE".utf8)
}
