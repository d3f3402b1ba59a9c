import HTTPCore
import Reactor
import RedisPool

/// What a read of one instance gave.
enum ReadResult {
  case found(FeatureRow, CacheResult)
  /// The instance does not exist (`.negative`: known from the cache).
  case missing(CacheResult)
  /// Redis holds something at the key that is not a feature row (a key of another type, an
  /// error reply): bad stored data, not an outage. Logged and counted where it was read.
  case invalid(CacheResult)
  case unavailable(RedisError)
}

/// One loop's path from a key to its row: cache, then (single-flight) Redis, with stale-if-error.
/// Runs on its loop only.
final class FeatureReader {
  /// Loop time of the last stored-row problem logged, so a bad key read in a hot loop logs once
  /// a second (with how many were not logged), not once per request.
  private var lastProblemLogged: UInt64 = 0
  private var problemsNotLogged = 0
  let loop: EventLoop
  let redis: RedisLoopPool
  let cache: FeatureCache?
  let metrics: LoopMetrics
  let registry: Registry

  init(loop: EventLoop, redis: RedisLoopPool, cache: FeatureCache?, metrics: LoopMetrics, registry: Registry) {
    self.loop = loop
    self.redis = redis
    self.cache = cache
    self.metrics = metrics
    self.registry = registry
  }

  /// Reads one instance.
  func read(_ entity: EntityDefinition, id: String, completion: @escaping (ReadResult) -> Void) {
    let key = registry.redisKey(entity: entity.name, id: id)
    if let cached = lookup(key, entity: entity) {
      completion(cached)
      return
    }
    let command = RedisCommand("HGETALL", key)
    fetch(key, entity: entity) { finish in
      self.redis.send(viewing: command, completion: finish)
    } completion: {
      completion($0)
    }
  }

  /// Reads many instances; every miss goes to Redis in one pipelined batch (one round trip).
  func read(many items: [(entity: EntityDefinition, id: String)], completion: @escaping ([ReadResult]) -> Void) {
    var results = [ReadResult?](repeating: nil, count: items.count)
    var pendingCount = 0
    var commands: [(RedisCommand, (RedisReplyResult) -> Void)] = []
    var completed = false
    func itemDone() {
      pendingCount -= 1
      if pendingCount == 0 && !completed {
        completed = true
        completion(results.map { $0 ?? .unavailable(.unavailable) })
      }
    }
    pendingCount = 1  // held until every item is scheduled
    for (position, item) in items.enumerated() {
      let key = registry.redisKey(entity: item.entity.name, id: item.id)
      if let cached = lookup(key, entity: item.entity) {
        results[position] = cached
        continue
      }
      pendingCount += 1
      fetch(key, entity: item.entity) { finish in
        commands.append((RedisCommand("HGETALL", key), finish))
      } completion: { result in
        results[position] = result
        itemDone()
      }
    }
    if !commands.isEmpty { redis.send(viewingBatch: commands) }
    itemDone()
  }

  /// A cached answer, or nil when Redis must be asked.
  private func lookup(_ key: String, entity: EntityDefinition) -> ReadResult? {
    guard let cache else { return nil }
    switch cache.lookup(key, now: loop.now) {
    case .fresh(.row(let row), let refresh):
      metrics.recordCache(.hit)
      if refresh { refreshInBackground(key, entity: entity) }
      return .found(row, .hit)
    case .fresh(.missing, _):
      metrics.recordCache(.negative)
      return .missing(.negative)
    case .fresh(.invalid, _):
      metrics.recordCache(.negative)
      return .invalid(.negative)
    case .expired, .miss:
      return nil
    }
  }

  /// Re-reads a cached row before it expires; the answer already given was the cached row.
  private func refreshInBackground(_ key: String, entity: EntityDefinition) {
    metrics.cacheRefreshes.wrappingIncrement(ordering: .relaxed)
    let command = RedisCommand("HGETALL", key)
    fetch(key, entity: entity, countsAsRead: false) { finish in
      self.redis.send(viewing: command, completion: finish)
    } completion: { _ in
    }
  }

  /// Fetches `key` once however many callers miss it at the same time (single-flight): `send`
  /// is called only for the first, with the function that ends the fetch.
  private func fetch(
    _ key: String, entity: EntityDefinition, countsAsRead: Bool = true,
    send: (@escaping (RedisReplyResult) -> Void) -> Void, completion: @escaping (ReadResult) -> Void
  ) {
    let deliver: (FeatureCache.FetchOutcome) -> Void = { outcome in
      switch outcome {
      case .found(let row):
        if countsAsRead { self.metrics.recordCache(.miss) }
        completion(.found(row, .miss))
      case .missing:
        if countsAsRead { self.metrics.recordCache(.miss) }
        completion(.missing(.miss))
      case .invalid:
        if countsAsRead { self.metrics.recordCache(.miss) }
        completion(.invalid(.miss))
      case .failed(let error):
        guard countsAsRead else { return completion(.unavailable(error)) }
        if let cache = self.cache, case .expired(let stale) = cache.lookup(key, now: monotonicNanoseconds()) {
          self.metrics.recordCache(.stale)
          switch stale {
          case .row(let row): completion(.found(row, .stale))
          case .missing: completion(.missing(.stale))
          case .invalid: completion(.invalid(.stale))
          }
        } else {
          completion(.unavailable(error))
        }
      }
    }
    // Runs inside the reply callback: the view is decoded here and not kept.
    let outcome: (RedisReplyResult) -> FeatureCache.FetchOutcome = { result in
      switch result {
      case .success(let reply) where reply.kind == .array:
        if let row = FeatureRow(hash: reply, entity: entity) {
          if row.decodeErrors > 0 {
            self.metrics.decodeErrors.wrappingIncrement(by: row.decodeErrors, ordering: .relaxed)
          }
          return .found(row)
        }
        return .missing
      case .success(let reply):
        // WRONGTYPE and the like: the key holds something that is not a feature hash. The
        // connection is fine and so is Redis; the row is bad. The details go to the log only.
        self.storedRowRefused(key, entity: entity, reply: reply)
        return .invalid
      case .failure(let error):
        return .failed(error)
      }
    }
    guard let cache else {
      send { deliver(outcome($0)) }
      return
    }
    if cache.join(key, deliver) {
      send { result in cache.finish(key, outcome(result), now: monotonicNanoseconds()) }
    }
  }

  private func storedRowRefused(_ key: String, entity: EntityDefinition, reply: RedisReplyView) {
    metrics.recordStoredRowError(entity: registry.position(of: entity.name))
    let now = loop.now
    guard now &- lastProblemLogged >= 1_000_000_000 || lastProblemLogged == 0 else {
      problemsNotLogged += 1
      return
    }
    lastProblemLogged = now
    let detail =
      reply.kind == .error
      ? String(decoding: reply.bytes.prefix(200), as: UTF8.self) : "a \(reply.kind) reply instead of a hash"
    featureLogger.warning(
      "a stored row cannot be read; answered as invalid stored data",
      metadata: [
        "key": "\(key)", "entity": "\(entity.name)", "redis": "\(detail)",
        "not_logged_since_last": "\(problemsNotLogged)",
      ])
    problemsNotLogged = 0
  }
}
