import Logging
import Reactor
import RedisPool

#if canImport(Glibc)
  import Glibc
#endif

/// Reads the event stream as one consumer of a group (XREADGROUP) and stores each event for
/// every entity that declares windows. Runs on one loop, on that loop's Redis connections.
///
/// Exactly-once effect on the windows, with at-least-once delivery: an entry is acknowledged
/// only after its events are stored, and storing is idempotent per transaction id. The
/// watermark (largest event time seen, minus the delay) is saved in Redis before the XACK, so a
/// server killed at any point restarts with the watermark of the last acknowledged batch,
/// re-reads its own pending entries first (same consumer name) and stores them with the same
/// cutoffs a clean run gives. Entries a consumer that never came back left pending are claimed
/// after `claimIdle` (XAUTOCLAIM).
final class StreamConsumer: @unchecked Sendable {  // its state is touched on its loop only
  let metrics = StreamMetrics()
  private let configuration: StreamConfiguration
  private let stream: [UInt8]
  private let group: [UInt8]
  private let consumer: [UInt8]
  private let watermarkKey: [UInt8]
  private let windowed: [(entity: EntityDefinition, windows: WindowFeatureSet)]
  private let writer: WindowEventWriter
  private let registry: Registry
  private let loop: EventLoop
  private let redis: RedisLoopPool
  /// Puts this consumer's writes into the cache; nil: they reach it as invalidations.
  let writeThrough: WindowCacheWriteThrough?
  /// Where events are stored: the write-through's own connection, else `redis`.
  private let storing: RedisLoopPool
  private var maxEventTime: Int64?
  /// The store script's SHA-1 once SCRIPT LOAD gave it (a cluster stores through it).
  private var scriptSHA1: [UInt8]?
  /// Set when a node answered NOSCRIPT (a restarted node, another cluster node): the next batch
  /// sends the script's body, which loads it there, then EVALSHA again.
  private var sendScriptBody = false
  /// Whether the last Redis step failed: a failure is logged when it starts, not on every retry.
  private var failing = false
  /// Own pending entries are read first ("0"), then new ones (">").
  private var readingPending = true
  private var lastClaim: UInt64 = 0
  private var lastInfo: UInt64 = 0
  private var loggedProblems = Set<WindowEventProblem>()
  private var stopped = false

  init(
    configuration: StreamConfiguration, stream: String, registry: Registry, loop: EventLoop, redis: RedisLoopPool,
    writeThrough: WindowCacheWriteThrough? = nil
  ) {
    self.configuration = configuration
    self.stream = Array(stream.utf8)
    group = Array(configuration.group.utf8)
    consumer = Array((configuration.consumer ?? StreamConsumer.hostName()).utf8)
    watermarkKey = Array("\(registry.keyPrefix):watermark:\(stream):\(configuration.group)".utf8)
    windowed = registry.entities.compactMap { entity in entity.windows.map { (entity, $0) } }
    writer = WindowEventWriter(maxEventsPerEntity: configuration.maxEventsPerEntity)
    self.registry = registry
    self.loop = loop
    self.redis = redis
    self.writeThrough = writeThrough
    storing = writeThrough?.writer ?? redis
  }

  func start() {
    _ = loop.execute { self.prepare() }
  }

  /// Stops reading after the batch in flight (its entries stay pending if not acknowledged).
  func stop() {
    _ = loop.execute { self.stopped = true }
  }

  // MARK: Start-up

  private func prepare() {
    guard !stopped else { return }
    let commands = [
      RedisCommand(arguments: [Self.xgroup, Self.create, stream, group, Self.zero, Self.mkstream]),
      RedisCommand(arguments: [Self.get, watermarkKey]),
      RedisCommand(arguments: [Self.script, Self.load, WindowEventWriter.storeScriptBytes]),
    ]
    redis.send(batch: commands) { [self] results in
      switch results[0] {
      case .success(.status): break
      case .success(.error(let text)) where text.hasPrefix("BUSYGROUP"): break
      case let other:
        problem("cannot create the consumer group; retrying", other)
        return retry(after: 1, prepare)
      }
      // Outside data: a saved watermark beyond the event times the engine accepts is ignored
      // (later arithmetic on it could overflow).
      if case .success(.bulk(let bytes)) = results[1], let time = Int64(String(decoding: bytes, as: UTF8.self)),
        StoredWindowEvents.validTimes.contains(time)
      {
        maxEventTime = time
        metrics.maxEventTime.store(Int(time), ordering: .relaxed)
      }
      if case .success(.bulk(let sha)) = results[2] { scriptSHA1 = sha }
      streamLogger.info(
        "consuming the event stream",
        metadata: [
          "stream": "\(String(decoding: stream, as: UTF8.self))", "group": "\(configuration.group)",
          "consumer": "\(String(decoding: consumer, as: UTF8.self))",
          "entities": "\(windowed.map(\.entity.name).joined(separator: ","))",
        ])
      poll()
    }
  }

  // MARK: Reading

  private func poll() {
    guard !stopped else { return }
    writeThrough?.keepRegistered()
    let now = monotonicNanoseconds()
    if now &- lastInfo >= 1_000_000_000 {
      lastInfo = now
      readGroupInfo()
    }
    if !readingPending, now &- lastClaim >= nanoseconds(fromSeconds: configuration.claimIdle / 2) {
      lastClaim = now
      return claimAbandoned()
    }
    let command = RedisCommand(arguments: [
      Self.xreadgroup, Self.groupWord, group, consumer, Self.count, Array(String(configuration.batchSize).utf8),
      Self.streams, stream, readingPending ? Self.zero : Self.newOnly,
    ])
    redis.send(viewing: command) { [self] result in
      switch result {
      case .success(let reply) where reply.kind == .array:
        // [[stream, [[id, [field, value, ...]], ...]]]; read in place, inside this callback.
        guard let pair = reply[0], pair.count == 2, let entries = pair[1], entries.kind == .array, entries.count > 0
        else { return idle() }
        process(entries)
      case .success(let reply) where reply.kind == .null:
        idle()
      case .success(let reply):
        problem("cannot read the event stream; retrying", String(decoding: reply.bytes.prefix(200), as: UTF8.self))
        retry(after: 0.5, poll)
      case .failure(let error):
        problem("cannot read the event stream; retrying", error)
        retry(after: 0.5, poll)
      }
    }
  }

  private func idle() {
    if readingPending {
      readingPending = false
      return poll()
    }
    retry(after: configuration.pollInterval, poll)
  }

  /// Takes over entries another consumer read but did not acknowledge for `claimIdle`, then
  /// reads them as its own pending entries.
  private func claimAbandoned() {
    let idle = Array(String(Int64(configuration.claimIdle * 1000)).utf8)
    let command = RedisCommand(arguments: [
      Self.xautoclaim, stream, group, consumer, idle, Self.zeroID, Self.count,
      Array(String(configuration.batchSize).utf8), Self.justID,
    ])
    redis.send(command) { [self] result in
      if case .success(.array(let reply)) = result, reply.count >= 2, case .array(let claimed) = reply[1],
        !claimed.isEmpty
      {
        metrics.claimedEntries.wrappingIncrement(by: claimed.count, ordering: .relaxed)
        readingPending = true
      }
      poll()
    }
  }

  private func readGroupInfo() {
    redis.send(RedisCommand(arguments: [Self.xinfo, Self.groups, stream])) { [self] result in
      guard case .success(.array(let groups)) = result else { return }
      for case .array(let fields) in groups {
        var name: String? = nil
        var lag = -1
        var pending = -1
        var index = 0
        while index + 1 < fields.count {
          let field = fields[index].text
          if field == "name" { name = fields[index + 1].text }
          if field == "lag", case .integer(let value) = fields[index + 1] { lag = Int(clamping: value) }
          if field == "pending", case .integer(let value) = fields[index + 1] { pending = Int(clamping: value) }
          index += 2
        }
        if name == configuration.group {
          metrics.groupLag.store(lag, ordering: .relaxed)
          metrics.groupPending.store(pending, ordering: .relaxed)
        }
      }
    }
  }

  // MARK: Storing

  /// Stores the events of `entries` (a view: everything needed is copied out before return).
  private func process(_ entries: RedisReplyView) {
    let maxAtStart = maxEventTime
    var ids: [[UInt8]] = []
    var addedTimes: [Int64] = []
    var writes: [WindowEventWrite] = []
    var accepted = 0
    var late = 0
    for position in 0..<entries.count {
      guard let entry = entries[position], entry.count == 2, let idView = entry[0], idView.kind == .bulk else {
        continue
      }
      let id = Array(idView.bytes)
      ids.append(id)
      addedTimes.append(Self.microseconds(ofEntryID: id))
      // A pending entry deleted from the stream (XTRIM) comes back without fields: nothing to store.
      guard let fields = entry[1], fields.kind == .array else { continue }
      var event: WindowEvent? = nil
      var problem: WindowEventProblem? = nil
      for (entity, windows) in windowed {
        let parsed: WindowEvent
        switch windows.schema.parse(fields: fields) {
        case .success(let value): parsed = value
        case .failure(.missingKey): continue  // not an event of this entity
        case .failure(let other):
          problem = other
          continue
        }
        guard case .success(let entityID) = entity.idRule.canonical(parsed.key) else {
          problem = problem ?? .missingKey
          continue
        }
        event = parsed
        let watermark = maxEventTime.map { $0 &- windows.delay }
        guard windows.counts(time: parsed.time, watermark: watermark) else {
          late += 1
          continue
        }
        writes.append(
          WindowEventWriter.write(
            registry: registry, entity: entity, windows: windows, id: entityID, event: parsed, watermark: watermark))
      }
      if let problem {
        bad(problem, id: id)
        continue
      }
      guard let event else {
        bad(.missingKey, id: id)
        continue
      }
      accepted += 1
      if maxEventTime == nil || event.time > maxEventTime! { maxEventTime = event.time }
    }
    guard !writes.isEmpty else {
      return finish(ids: ids, addedTimes: addedTimes, accepted: accepted, late: late)
    }
    store(writes) { [self] summary in
      if summary.failed != nil || summary.noScript {
        // Nothing is acknowledged: the entries are read again (storing is idempotent), with
        // the watermark they were first judged under.
        maxEventTime = maxAtStart
        readingPending = true
        if summary.noScript && summary.failed == nil {
          sendScriptBody = true
          return poll()
        }
        metrics.writeFailures.wrappingIncrement(ordering: .relaxed)
        problem("cannot store events; retrying", summary.failed!)
        return retry(after: 0.5, poll)
      }
      sendScriptBody = false
      metrics.duplicateEvents.wrappingIncrement(by: summary.duplicates, ordering: .relaxed)
      metrics.evictedEvents.wrappingIncrement(by: summary.evicted, ordering: .relaxed)
      finish(ids: ids, addedTimes: addedTimes, accepted: accepted, late: late)
    }
  }

  /// What storing a batch's events came to.
  private struct StoreSummary {
    var duplicates = 0
    var evicted = 0
    var noScript = false
    var failed: RedisResult? = nil
  }

  /// Stores `writes` with about one call's worth of events in flight: a batch's calls pipelined
  /// together held Redis for milliseconds, and every GET that missed the cache waited behind
  /// them (bench/stream.sh). On a single Redis that is one call (a MULTI block) at a time, each
  /// carrying the prune steps earlier calls asked for; on a cluster, where calls are grouped by
  /// slot and mostly hold one event each, as many calls as one would hold events (else ingest
  /// would wait a round trip per event), then the prune steps. After a failure the rest are not
  /// sent. Each call's events reach the write-through cache as its reply arrives.
  private func store(_ writes: [WindowEventWrite], completion: @escaping (StoreSummary) -> Void) {
    let calls = writer.calls(writes, cluster: redis.isCluster, scriptSHA1: sendScriptBody ? nil : scriptSHA1)
    var summary = StoreSummary()
    var prunes: [WindowEventWrite] = []
    func take(_ call: WindowEventWriter.Call, _ outcome: WindowEventWriter.Outcome) {
      switch outcome {
      case .success(let outcome):
        summary.evicted += outcome.evicted
        for (position, stored) in zip(call.positions, outcome.stored) {
          guard stored.isNew else {
            summary.duplicates += 1
            continue
          }
          if writer.needsPruning(writes[position], fields: stored.fields) {
            prunes.append(writes[position])
            writeThrough?.apply(writes[position], length: nil)  // the prune changes it again
          } else {
            writeThrough?.apply(writes[position], length: stored.fields)
          }
        }
        return
      case .failure(.noScript): summary.noScript = true
      case .failure(.failed(let result)): summary.failed = summary.failed ?? result
      }
      // Whether it ran is unknown: what the cache holds for its entities goes.
      for position in call.positions { writeThrough?.apply(writes[position], length: nil) }
    }
    func pruneThenComplete() {
      guard !prunes.isEmpty, summary.failed == nil, !summary.noScript else { return completion(summary) }
      // A failed prune is left for the next: the events are stored, and the hash is pruned when
      // it next grows by 32 or is over the bound.
      let commands = prunes.map { writer.prune($0) }
      storing.send(paced: commands, inFlight: redis.isCluster ? WindowEventWriter.eventsPerCall : commands.count) {
        results in
        for case .success(.integer(let count)) in results { summary.evicted += Int(clamping: count) }
        completion(summary)
      }
    }
    if redis.isCluster {
      storing.send(paced: calls.map { $0.commands[0] }, inFlight: WindowEventWriter.eventsPerCall) { results in
        for (call, result) in zip(calls, results) { take(call, WindowEventWriter.outcome(ofScript: call, result)) }
        pruneThenComplete()
      }
      return
    }
    var index = 0
    func next() {
      guard index < calls.count, summary.failed == nil else { return pruneThenComplete() }
      let call = calls[index]
      index += 1
      let riding = prunes
      prunes = []
      // Replies read in place: MULTI's and each QUEUED only say whether they failed; the EXEC
      // reply holds the outcome (building a value for each of ~50 replies a call was a sixth of
      // the consumer's instructions).
      let queuing = QueuingReplies()
      let queued: (RedisReplyResult) -> Void = { queuing.record($0) }
      let commands = writer.riding(riding, on: call)
      var requests = commands.dropLast().map { RedisViewRequest($0, completion: queued) }
      requests.append(
        RedisViewRequest(commands[commands.count - 1]) { result in
          switch result {
          case .success(let reply) where reply.kind != .error:
            take(call, WindowEventWriter.outcome(ofExec: reply, call, prunes: riding.count))
          case .success(let reply):
            take(
              call, .failure(.failed(queuing.failure ?? .success(.error(String(decoding: reply.bytes, as: UTF8.self)))))
            )
          case .failure(let error):
            take(call, .failure(.failed(.failure(error))))
          }
          next()
        })
      storing.send(viewingBatch: requests)
    }
    next()
  }

  /// The first failure among a MULTI block's queuing replies (one completion shared by all).
  private final class QueuingReplies {
    var failure: RedisResult? = nil

    func record(_ result: RedisReplyResult) {
      guard failure == nil else { return }
      switch result {
      case .success(let reply) where reply.kind == .error:
        failure = .success(.error(String(decoding: reply.bytes, as: UTF8.self)))
      case .failure(let error): failure = .failure(error)
      default: break
      }
    }
  }

  /// Saves the watermark, then acknowledges the entries.
  private func finish(ids: [[UInt8]], addedTimes: [Int64], accepted: Int, late: Int) {
    guard !ids.isEmpty else { return poll() }
    var commands: [RedisCommand] = []
    if let maxEventTime {
      commands.append(
        RedisCommand(arguments: [Self.eval, Self.raiseScript, Self.one, watermarkKey, Array(String(maxEventTime).utf8)])
      )
    }
    commands.append(RedisCommand(arguments: [Self.xack, stream, group] + ids))
    redis.send(batch: commands) { [self] results in
      guard results.allSatisfy({ if case .success(let value) = $0, !Self.isError(value) { true } else { false } })
      else {
        problem("cannot acknowledge events; they will be read again", results)
        readingPending = true
        return retry(after: 0.5, poll)
      }
      if failing {
        failing = false
        streamLogger.notice("the event stream is consumed again")
      }
      metrics.eventsIn.wrappingIncrement(by: accepted, ordering: .relaxed)
      metrics.lateEvents.wrappingIncrement(by: late, ordering: .relaxed)
      if let maxEventTime { metrics.maxEventTime.store(Int(maxEventTime), ordering: .relaxed) }
      let now = wallClockMicroseconds()
      for added in addedTimes where added > 0 { metrics.recordLatency(microseconds: now - added) }
      poll()
    }
  }

  // MARK: Helpers

  private func bad(_ problem: WindowEventProblem, id: [UInt8]) {
    metrics.badEvents[WindowEventProblem.allCases.firstIndex(of: problem)!].wrappingIncrement(ordering: .relaxed)
    guard loggedProblems.insert(problem).inserted else { return }
    streamLogger.warning(
      "skipping bad events (logged once per kind; counted in featureserver_stream_bad_events_total)",
      metadata: [
        "problem": "\(problem.rawValue)", "reason": "\(problem.explanation)",
        "first_entry": "\(String(decoding: id, as: UTF8.self))",
      ])
  }

  /// Logs a Redis problem once when it starts; retries are silent until a batch succeeds.
  private func problem(_ message: Logger.Message, _ detail: Any) {
    guard !failing else { return }
    failing = true
    streamLogger.warning(message, metadata: ["redis": "\(String(describing: detail).prefix(300))"])
  }

  private func retry(after seconds: Double, _ action: @escaping () -> Void) {
    _ = loop.schedule(afterNanoseconds: nanoseconds(fromSeconds: seconds)) { action() }
  }

  private static func isError(_ value: RedisValue) -> Bool {
    if case .error = value { return true }
    return false
  }

  /// The time of a stream entry id (`1700000000000-0`: its milliseconds part) in µs; 0 when
  /// unreadable or beyond year 9999 (a producer may XADD explicit ids).
  static func microseconds(ofEntryID id: [UInt8]) -> Int64 {
    var milliseconds: Int64 = 0
    for byte in id {
      guard byte >= 48 && byte <= 57 else { break }
      milliseconds = milliseconds * 10 + Int64(byte - 48)
      guard milliseconds <= StoredWindowEvents.validTimes.upperBound / 1000 else { return 0 }
    }
    return milliseconds * 1000
  }

  static func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "featureserver" }
    let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return name.isEmpty ? "featureserver" : name
  }

  /// Raises the saved watermark's event time, never lowers it (several consumers share it).
  private static let raiseScript = Array(
    """
    local current = redis.call('GET', KEYS[1])
    if not current or tonumber(current) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
    return 1
    """.utf8)
  private static let xgroup = Array("XGROUP".utf8)
  private static let create = Array("CREATE".utf8)
  private static let zero = Array("0".utf8)
  private static let zeroID = Array("0-0".utf8)
  private static let mkstream = Array("MKSTREAM".utf8)
  private static let get = Array("GET".utf8)
  private static let script = Array("SCRIPT".utf8)
  private static let load = Array("LOAD".utf8)
  private static let xreadgroup = Array("XREADGROUP".utf8)
  private static let groupWord = Array("GROUP".utf8)
  private static let count = Array("COUNT".utf8)
  private static let streams = Array("STREAMS".utf8)
  private static let newOnly = Array(">".utf8)
  private static let xautoclaim = Array("XAUTOCLAIM".utf8)
  private static let justID = Array("JUSTID".utf8)
  private static let xinfo = Array("XINFO".utf8)
  private static let groups = Array("GROUPS".utf8)
  private static let eval = Array("EVAL".utf8)
  private static let one = Array("1".utf8)
  private static let xack = Array("XACK".utf8)
}
