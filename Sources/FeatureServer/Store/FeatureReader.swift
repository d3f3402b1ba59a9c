import HTTPCore
import Logging
import Reactor
import RedisPool

/// What a read of one native instance gave.
enum ReadResult {
  case found(FeatureRow, CacheResult)
  /// The instance does not exist (`.negative`: known from the cache).
  case missing(CacheResult)
  /// Redis holds something at the key that is not a feature row (a key of another type, an
  /// error reply): bad stored data, not an outage. Logged and counted where it was read.
  case invalid(CacheResult)
  case unavailable(RedisError)
}

/// What a read of one row, in any layout, gave.
enum RowResult {
  case found(StoredRow, CacheResult)
  case missing(CacheResult)
  case invalid(CacheResult)
  case unavailable(RedisError)

  /// The native view of it (a native source only ever yields native rows).
  var native: ReadResult {
    switch self {
    case .found(.native(let row), let cache): .found(row, cache)
    case .found(.feast, let cache), .found(.windowEvents, let cache): .invalid(cache)
    case .missing(let cache): .missing(cache)
    case .invalid(let cache): .invalid(cache)
    case .unavailable(let error): .unavailable(error)
    }
  }
}

/// One loop's path from a key to its row, in any store layout: the shared cache, then
/// (single-flight across loops) Redis, with stale-if-error. Runs on its loop only.
final class FeatureReader {
  /// Loop time of the last stored-row problem logged, so a bad key read in a hot loop logs once
  /// a second (with how many were not logged), not once per request.
  private var lastProblemLogged: UInt64 = 0
  private var problemsNotLogged = 0
  let loop: EventLoop
  let redis: RedisLoopPool
  let cache: SharedFeatureCache?
  let metrics: LoopMetrics
  let registry: Registry
  /// The native layout's source of each entity, by registry position.
  let nativeSources: [NativeRowSource]
  /// The window events' source of each entity that declares windows, by registry position.
  let windowSources: [WindowEventsSource?]

  init(
    loop: EventLoop, redis: RedisLoopPool, cache: SharedFeatureCache?, metrics: LoopMetrics, registry: Registry,
    windowCacheLifetime: UInt64 = 0, windowTracking: RedisInvalidationListener? = nil, rowCacheLifetime: UInt64 = 0
  ) {
    self.loop = loop
    self.redis = redis
    self.cache = cache
    self.metrics = metrics
    self.registry = registry
    nativeSources = registry.entities.enumerated().map { NativeRowSource(entity: $1, position: $0) }
    rowKeyPrefixes = registry.entities.map { Array(registry.redisKey(entity: $0.name, id: "").utf8) }
    eventsKeyPrefixes = registry.entities.map {
      Array(registry.windowEventsKey(entity: $0.name, id: "").utf8.dropLast())
    }
    windowSources = registry.entities.enumerated().map { position, entity in
      entity.windows.map { _ in
        WindowEventsSource(
          entity: entity, position: position, cacheLifetime: windowCacheLifetime, trackedLifetime: rowCacheLifetime,
          tracking: windowTracking)
      }
    }
  }

  /// By registry position: what every row key and every events key of the entity starts
  /// with (`registry.redisKey` and `windowEventsKey` without the id), so a request's keys are
  /// made from bytes, not through string interpolation.
  private let rowKeyPrefixes: [[UInt8]]
  private let eventsKeyPrefixes: [[UInt8]]

  private func source(of entity: EntityDefinition) -> NativeRowSource {
    if let position = position(of: entity) { return nativeSources[position] }
    return NativeRowSource(entity: entity, position: 0)
  }

  /// The entity's registry position: by identity first (a request's entity is the registry's
  /// own), by name otherwise.
  private func position(of entity: EntityDefinition) -> Int? {
    for (position, candidate) in registry.entities.enumerated() where candidate === entity { return position }
    return registry.position(of: entity.name)
  }

  private func rowKey(_ entity: EntityDefinition, position: Int?, id: String) -> RowKey {
    guard let position else { return RowKey(registry.redisKey(entity: entity.name, id: id)) }
    var bytes = rowKeyPrefixes[position]
    bytes.append(contentsOf: id.utf8)
    return RowKey(bytes)
  }

  private func eventsKey(position: Int, id: String) -> RowKey {
    var bytes = eventsKeyPrefixes[position]
    bytes.append(contentsOf: id.utf8)
    bytes.append(UInt8(ascii: "}"))
    return RowKey(bytes)
  }

  /// Reads one native instance (with its window features, when its entity declares them).
  func read(_ entity: EntityDefinition, id: String, completion: @escaping (ReadResult) -> Void) {
    let position = position(of: entity)
    let baseKey = rowKey(entity, position: position, id: id)
    guard entity.windows != nil, let position, let eventsSource = windowSources[position]
    else {
      return read(source(of: entity), key: baseKey) { completion($0.native) }
    }
    // The row and its events: from the cache when both are there (no batch, no closure),
    // else in one round trip.
    let baseSource = nativeSources[position]
    let eventsKey = eventsKey(position: position, id: id)
    if let base = lookup(baseKey, source: baseSource) {
      if let events = lookup(eventsKey, source: eventsSource) {
        return completion(withWindows(base.native, events: events, position: position, now: wallClockMicroseconds()))
      }
      return read(eventsSource, key: eventsKey) { events in
        completion(self.withWindows(base.native, events: events, position: position, now: wallClockMicroseconds()))
      }
    }
    read(rows: [(baseSource, baseKey), (eventsSource, eventsKey)]) { results in
      completion(
        self.withWindows(results[0].native, events: results[1], position: position, now: wallClockMicroseconds()))
    }
  }

  /// A read row with its window features computed from its events at `now`.
  private func withWindows(_ base: ReadResult, events: RowResult, position: Int, now: Int64) -> ReadResult {
    guard case .found(var row, let cache) = base, let windows = registry.entities[position].windows else {
      return base
    }
    switch events {
    case .found(.windowEvents(let stored), _):
      row.setWindowValues(windows.values(of: stored, now: now), entity: registry.entities[position])
    case .missing:
      row.setNoWindowEvents(entity: registry.entities[position])
    default:
      // Redis failed on the events only (or holds something else there): the stored features
      // are still worth serving; the window features are null, and counted.
      metrics.windowReadFailures.wrappingIncrement(ordering: .relaxed)
      row.setWindowValues(
        [FeatureValue?](repeating: nil, count: windows.features.count), entity: registry.entities[position])
    }
    return .found(row, cache)
  }

  /// Reads many native instances; every miss goes to Redis in one pipelined batch. An entity
  /// with windows adds the read of its events hash to the batch; its window features are
  /// computed from them at the time of the answer. `windows: false` skips them (the rows keep
  /// the values of an entity without events: for a caller that does not use them).
  func read(
    many items: [(entity: EntityDefinition, id: String)], windows: Bool = true,
    completion: @escaping ([ReadResult]) -> Void
  ) {
    var rows: [(source: RowSource, key: RowKey)] = []
    rows.reserveCapacity(items.count)
    var windowRows: [Int?] = []  // by item: the position of its events read in `rows`
    for item in items {
      rows.append(
        (source(of: item.entity), rowKey(item.entity, position: position(of: item.entity), id: item.id)))
      windowRows.append(nil)
    }
    for (index, item) in items.enumerated() where windows {
      guard let position = position(of: item.entity), let events = windowSources[position] else {
        continue
      }
      windowRows[index] = rows.count
      rows.append((events, eventsKey(position: position, id: item.id)))
    }
    guard windowRows.contains(where: { $0 != nil }) else { return read(rows: rows) { completion($0.map(\.native)) } }
    var positions: [Int?] = []  // by item: its entity's registry position when it has windows
    for (index, item) in items.enumerated() {
      positions.append(windowRows[index] == nil ? nil : position(of: item.entity))
    }
    read(rows: rows) { results in
      let now = wallClockMicroseconds()
      completion(
        items.indices.map { index in
          guard let eventsRow = windowRows[index], let position = positions[index] else { return results[index].native }
          return self.withWindows(results[index].native, events: results[eventsRow], position: position, now: now)
        })
    }
  }

  /// Reads one row of any layout.
  func read(_ source: RowSource, key: RowKey, completion: @escaping (RowResult) -> Void) {
    if let cached = lookup(key, source: source) {
      completion(cached)
      return
    }
    fetch(key, source: source) { finish in
      self.redis.send(viewing: source.readCommand(key), completion: finish)
    } completion: {
      completion($0)
    }
  }

  /// Reads many rows of any layout; every miss goes to Redis in one pipelined batch (one round
  /// trip), and the same key asked twice is read once.
  func read(rows items: [(source: RowSource, key: RowKey)], completion: @escaping ([RowResult]) -> Void) {
    // The common case first: every row in the cache, answered without a closure or a box.
    var cachedPrefix: [RowResult] = []
    cachedPrefix.reserveCapacity(items.count)
    while cachedPrefix.count < items.count {
      let item = items[cachedPrefix.count]
      guard let cached = lookup(item.key, source: item.source) else { break }
      cachedPrefix.append(cached)
    }
    if cachedPrefix.count == items.count { return completion(cachedPrefix) }
    var results = [RowResult?](repeating: nil, count: items.count)
    for (position, cached) in cachedPrefix.enumerated() { results[position] = cached }
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
    for (position, item) in items.enumerated().dropFirst(cachedPrefix.count) {
      // The row that ended the cached prefix was looked up already (and missed).
      if position > cachedPrefix.count, let cached = lookup(item.key, source: item.source) {
        results[position] = cached
        continue
      }
      pendingCount += 1
      fetch(item.key, source: item.source) { finish in
        commands.append((item.source.readCommand(item.key), finish))
      } completion: { result in
        results[position] = result
        itemDone()
      }
    }
    if !commands.isEmpty { redis.send(viewingBatch: commands) }
    itemDone()
  }

  /// A cached answer, or nil when Redis must be asked.
  private func lookup(_ key: RowKey, source: RowSource) -> RowResult? {
    guard let cache else { return nil }
    let counted = source.countsInCacheMetrics
    switch cache.lookup(key, now: loop.now) {
    case .fresh(.row(let row), let refresh):
      if counted { metrics.recordCache(.hit) }
      // Window events are re-read when they expire (or change), not ahead of it.
      if refresh && source.refreshesAhead { refreshInBackground(key, source: source) }
      return .found(row, .hit)
    case .fresh(.missing, _):
      if counted { metrics.recordCache(.negative) }
      return .missing(.negative)
    case .fresh(.invalid, _):
      if counted { metrics.recordCache(.negative) }
      return .invalid(.negative)
    case .expired, .miss:
      return nil
    }
  }

  /// Re-reads a cached row before it expires; the answer already given was the cached row.
  private func refreshInBackground(_ key: RowKey, source: RowSource) {
    metrics.cacheRefreshes.wrappingIncrement(ordering: .relaxed)
    fetch(key, source: source, countsAsRead: false) { finish in
      self.redis.send(viewing: source.readCommand(key), completion: finish)
    } completion: { _ in
    }
  }

  /// Fetches `key` once however many callers miss it at the same time (single-flight): `send`
  /// is called only for the first, with the function that ends the fetch.
  private func fetch(
    _ key: RowKey, source: RowSource, countsAsRead requested: Bool = true,
    send: (@escaping (RedisReplyResult) -> Void) -> Void, completion: @escaping (RowResult) -> Void
  ) {
    let countsAsRead = requested && source.countsInCacheMetrics
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
        guard requested else { return completion(.unavailable(error)) }  // a background refresh
        if let cache = self.cache, case .expired(let stale) = cache.lookup(key, now: monotonicNanoseconds()) {
          if countsAsRead { self.metrics.recordCache(.stale) }
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
      case .success(let reply):
        switch source.decode(reply) {
        case .row(let row, let decodeErrors):
          if decodeErrors > 0 {
            self.metrics.decodeErrors.wrappingIncrement(by: decodeErrors, ordering: .relaxed)
            self.logStoredProblem(
              "stored values do not decode as their type; served as null", key: key, source: source,
              detail: "\(decodeErrors) value(s)")
          }
          return .found(row)
        case .missing:
          return .missing
        case .invalid(let detail):
          // The connection is fine and so is Redis; the row is bad. The details go to the log only.
          self.storedRowRefused(key, source: source, detail: detail)
          return .invalid
        }
      case .failure(let error):
        return .failed(error)
      }
    }
    guard let cache else {
      send { deliver(outcome($0)) }
      return
    }
    if cache.join(key, loop: loop, deliver) {
      let ticket = source.fetchTicket
      send { result in
        cache.finish(key, outcome(result), now: monotonicNanoseconds(), on: self.loop) {
          source.cacheLifetime(since: ticket)
        }
      }
    }
  }

  private func storedRowRefused(_ key: RowKey, source: RowSource, detail: String) {
    metrics.recordStoredRowError(entity: source.errorLabel(nativeEntityCount: registry.entities.count))
    logStoredProblem(
      "a stored row cannot be read; answered as invalid stored data", key: key, source: source, detail: detail)
  }

  /// Logs a problem with stored data, at most once a second per loop (the rest are counted in
  /// the next line), with the key: the metrics say how often, the log says where.
  private func logStoredProblem(_ message: Logger.Message, key: RowKey, source: RowSource, detail: String) {
    let now = loop.now
    guard now &- lastProblemLogged >= 1_000_000_000 || lastProblemLogged == 0 else {
      problemsNotLogged += 1
      return
    }
    lastProblemLogged = now
    featureLogger.warning(
      message,
      metadata: [
        "key": "\(key.loggable)", "entity": "\(source.name)", "redis": "\(detail)",
        "not_logged_since_last": "\(problemsNotLogged)",
      ])
    problemsNotLogged = 0
  }
}
