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

/// The rows of one `read(rows:)` call being fetched: answered together, in order, once the last
/// one is in.
private final class RowBatch {
  var results: [RowResult?]
  /// Rows not in yet, plus one until every row has been scheduled.
  var pending = 1
  private var completion: (([RowResult]) -> Void)?

  init(count: Int, completion: @escaping ([RowResult]) -> Void) {
    results = [RowResult?](repeating: nil, count: count)
    self.completion = completion
  }

  func complete(_ position: Int, _ result: RowResult) {
    results[position] = result
    itemDone()
  }

  /// Every row has been scheduled (some may already be in).
  func scheduled() { itemDone() }

  private func itemDone() {
    pending -= 1
    guard pending == 0, let completion else { return }
    self.completion = nil
    completion(results.map { $0 ?? .unavailable(.unavailable) })
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

  /// The native source of `entity`, at its registry `position` when it has one.
  private func source(of entity: EntityDefinition, at position: Int?) -> NativeRowSource {
    if let position { return nativeSources[position] }
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
    return RowKey(Self.joined(rowKeyPrefixes[position], id, suffix: nil))
  }

  private func eventsKey(position: Int, id: String) -> RowKey {
    RowKey(Self.joined(eventsKeyPrefixes[position], id, suffix: UInt8(ascii: "}")))
  }

  /// `prefix`, the id's bytes and `suffix`, in one allocation of the right size. Reserved, then
  /// appended: `[UInt8](unsafeUninitializedCapacity:)` allocates through the standard library's
  /// unspecialized path, which looks up the array storage's type metadata at run time (~350
  /// instructions under callgrind, twice a request), and copying the prefix and then appending
  /// would allocate twice.
  private static func joined(_ prefix: [UInt8], _ id: String, suffix: UInt8?) -> [UInt8] {
    var id = id
    return id.withUTF8 { idBytes in
      var key: [UInt8] = []
      key.reserveCapacity(prefix.count + idBytes.count + 1)
      key.append(contentsOf: prefix)
      key.append(contentsOf: idBytes)
      if let suffix { key.append(suffix) }
      return key
    }
  }

  /// Reads one native instance (with its window features, when its entity declares them).
  func read(_ entity: EntityDefinition, id: String, completion: @escaping (ReadResult) -> Void) {
    if let cached = read(entity, id: id, later: { completion }) { completion(cached) }
  }

  /// Reads one native instance: returns the answer when the cache holds all of it, or nil, and
  /// the answer goes to the completion `later` makes. (A cache hit makes no closure: it is the
  /// most common request and every closure is an allocation.)
  /// `registryPosition`: the entity's, when the caller knows it (else it is looked up).
  func read(
    _ entity: EntityDefinition, registryPosition: Int? = nil, id: String, later: () -> (ReadResult) -> Void
  ) -> ReadResult? {
    let position = registryPosition ?? position(of: entity)
    let baseKey = rowKey(entity, position: position, id: id)
    guard entity.hasWindows, let position, let eventsSource = windowSources[position]
    else {
      let source = source(of: entity, at: position)
      if let cached = lookup(baseKey, source: source) { return cached.native }
      let completion = later()
      fetchRow(source, key: baseKey) { completion($0.native) }
      return nil
    }
    // The row and its events: from the cache when both are there (no batch, no closure),
    // else in one round trip.
    let baseSource = nativeSources[position]
    let eventsKey = eventsKey(position: position, id: id)
    if let base = lookup(baseKey, source: baseSource) {
      if let events = lookup(eventsKey, source: eventsSource) {
        return withWindows(base.native, events: events, position: position, now: wallClockMicroseconds())
      }
      let completion = later()
      fetchRow(eventsSource, key: eventsKey) { events in
        completion(self.withWindows(base.native, events: events, position: position, now: wallClockMicroseconds()))
      }
      return nil
    }
    let completion = later()
    read(rows: [(baseSource, baseKey), (eventsSource, eventsKey)]) { results in
      completion(
        self.withWindows(results[0].native, events: results[1], position: position, now: wallClockMicroseconds()))
    }
    return nil
  }

  /// A read row with its window features computed from its events at `now`.
  private func withWindows(_ base: ReadResult, events: RowResult, position: Int, now: Int64) -> ReadResult {
    // A row as read (and as cached) already holds the window part of an entity without events:
    // nothing to copy or compute (the common case on a cache hit).
    if case .missing = events { return base }
    guard case .found(var row, let cache) = base else { return base }
    let entity = registry.entities[position]
    switch events {
    case .found(.windowEvents(let stored), _):
      guard let windows = entity.windows else { return base }
      row.setWindowValues(windows.values(of: stored, now: now), entity: entity)
    default:
      // Redis failed on the events only (or holds something else there): the stored features
      // are still worth serving; the window features are null, and counted.
      metrics.windowReadFailures.wrappingIncrement(ordering: .relaxed)
      row.setWindowValues(
        [FeatureValue?](repeating: nil, count: entity.features.count - entity.storedFeatureCount), entity: entity)
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
    rows.reserveCapacity(items.count * (windows ? 2 : 1))
    var positions: [Int?] = []  // by item: its entity's registry position (looked up once)
    positions.reserveCapacity(items.count)
    for item in items {
      let position = position(of: item.entity)
      positions.append(position)
      let source = source(of: item.entity, at: position)
      rows.append((source, rowKey(item.entity, position: position, id: item.id)))
    }
    var windowRows: [Int?]? = nil  // by item: the position of its events read in `rows`
    for (index, item) in items.enumerated() where windows {
      guard let position = positions[index], let events = windowSources[position] else { continue }
      if windowRows == nil { windowRows = [Int?](repeating: nil, count: items.count) }
      windowRows?[index] = rows.count
      rows.append((events, eventsKey(position: position, id: item.id)))
    }
    guard let windowRows else { return read(rows: rows) { completion($0.map(\.native)) } }
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
    fetchRow(source, key: key, completion: completion)
  }

  /// Reads one row from Redis (the cache missed it), single-flight.
  private func fetchRow(_ source: RowSource, key: RowKey, completion: @escaping (RowResult) -> Void) {
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
    let batch = RowBatch(count: items.count, completion: completion)
    for (position, cached) in cachedPrefix.enumerated() { batch.results[position] = cached }
    var commands: [RedisViewRequest] = []
    commands.reserveCapacity(items.count - cachedPrefix.count)
    for (position, item) in items.enumerated().dropFirst(cachedPrefix.count) {
      // The row that ended the cached prefix was looked up already (and missed).
      if position > cachedPrefix.count, let cached = lookup(item.key, source: item.source) {
        batch.results[position] = cached
        continue
      }
      batch.pending += 1
      guard cache != nil else {
        // No cache, so no single-flight: the reply goes straight to its row (one closure).
        let (source, key) = item
        commands.append(
          RedisViewRequest(source.readCommand(key)) { reply in
            let outcome = self.outcome(of: reply, key: key, source: source)
            batch.complete(position, self.result(of: outcome, key: key, source: source, requested: true))
          })
        continue
      }
      fetch(item.key, source: item.source) { finish in
        commands.append(RedisViewRequest(item.source.readCommand(item.key), completion: finish))
      } completion: { result in
        batch.complete(position, result)
      }
    }
    if !commands.isEmpty { redis.send(viewingBatch: commands) }
    batch.scheduled()
  }

  /// A cached answer, or nil when Redis must be asked.
  private func lookup(_ key: RowKey, source: RowSource) -> RowResult? {
    guard let cache else { return nil }
    let counted = source.countsInCacheMetrics
    switch cache.lookup(key, now: loop.now) {
    case .fresh(.row(let row), let refresh):
      if counted { metrics.recordCache(.hit) }
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
  /// is called only for the first, with the function that ends the fetch. (Methods, not local
  /// closures, turn a reply into an outcome and an outcome into a result: a cache miss is on the
  /// hot path when the cache is off, and every closure is an allocation.)
  private func fetch(
    _ key: RowKey, source: RowSource, countsAsRead requested: Bool = true,
    send: (@escaping (RedisReplyResult) -> Void) -> Void, completion: @escaping (RowResult) -> Void
  ) {
    guard let cache else {
      send { reply in
        completion(
          self.result(
            of: self.outcome(of: reply, key: key, source: source), key: key, source: source, requested: requested))
      }
      return
    }
    let joined = cache.join(key, loop: loop) { outcome in
      completion(self.result(of: outcome, key: key, source: source, requested: requested))
    }
    if joined {
      let ticket = source.fetchTicket
      send { result in
        cache.finish(
          key, self.outcome(of: result, key: key, source: source), now: monotonicNanoseconds(), on: self.loop
        ) {
          source.cacheLifetime(since: ticket)
        }
      }
    }
  }

  /// What a fetch's reply means for the cache. Runs inside the reply callback: the view is
  /// decoded here and not kept.
  private func outcome(of result: RedisReplyResult, key: RowKey, source: RowSource) -> FeatureCache.FetchOutcome {
    switch result {
    case .success(let reply):
      switch source.decode(reply) {
      case .row(let row, let decodeErrors):
        if decodeErrors > 0 {
          metrics.decodeErrors.wrappingIncrement(by: decodeErrors, ordering: .relaxed)
          logStoredProblem(
            "stored values do not decode as their type; served as null", key: key, source: source,
            detail: "\(decodeErrors) value(s)")
        }
        return .found(row)
      case .missing:
        return .missing
      case .invalid(let detail):
        // The connection is fine and so is Redis; the row is bad. The details go to the log only.
        storedRowRefused(key, source: source, detail: detail)
        return .invalid
      }
    case .failure(let error):
      return .failed(error)
    }
  }

  /// What one caller of a fetch gets: counted as a miss, or served stale when Redis failed and
  /// the cache still holds an expired value (not for a background refresh, `requested` false).
  private func result(
    of outcome: FeatureCache.FetchOutcome, key: RowKey, source: RowSource, requested: Bool
  ) -> RowResult {
    let countsAsRead = requested && source.countsInCacheMetrics
    switch outcome {
    case .found(let row):
      if countsAsRead { metrics.recordCache(.miss) }
      return .found(row, .miss)
    case .missing:
      if countsAsRead { metrics.recordCache(.miss) }
      return .missing(.miss)
    case .invalid:
      if countsAsRead { metrics.recordCache(.miss) }
      return .invalid(.miss)
    case .failed(let error):
      guard requested else { return .unavailable(error) }  // a background refresh
      guard let cache, case .expired(let stale) = cache.lookup(key, now: monotonicNanoseconds()) else {
        return .unavailable(error)
      }
      if countsAsRead { metrics.recordCache(.stale) }
      switch stale {
      case .row(let row): return .found(row, .stale)
      case .missing: return .missing(.stale)
      case .invalid: return .invalid(.stale)
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
