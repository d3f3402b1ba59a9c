import Reactor
import RedisPool

/// Settings of the in-process cache. Each has a flag.
public struct CacheConfiguration: Sendable {
  /// Seconds a row read from Redis is served without asking Redis again; 0 turns the cache off.
  public var ttl: Double = 5
  /// Seconds a missing instance is remembered as missing.
  public var negativeTTL: Double = 1
  /// Seconds past expiry that an entry may still be served (marked stale) while Redis fails.
  public var staleIfError: Double = 60
  /// Entries per process (all loops share one cache); the least recently used go first.
  public var maxEntries = 100_000
  /// Bytes the cached rows may take per process, estimated from what each row holds. A row
  /// larger than 1/64 of this (or of a shard's share, when smaller) is served but not cached.
  public var maxBytes = 256 * 1024 * 1024
  /// The share of the entries that may remember missing instances: a flood of requests for ids
  /// that do not exist then evicts only other missing ids, never the rows being served.
  public var negativeShare = 0.1
  /// A hit in the last `refreshAhead` share of an entry's TTL refreshes it from Redis in the
  /// background, so keys read steadily never expire on the request path; 0 turns it off.
  public var refreshAhead = 0.2

  public init() {}

  public var enabled: Bool { ttl > 0 && maxEntries > 0 }

  /// Refuses settings that cannot work, naming the flag.
  public func validate() throws {
    try ConfigurationError.checkSeconds("cache-ttl", ttl, positive: false)
    try ConfigurationError.checkSeconds("negative-cache-ttl", negativeTTL, positive: false)
    try ConfigurationError.checkSeconds("stale-if-error", staleIfError, positive: false)
    try ConfigurationError.check("cache-max-entries", maxEntries, in: 0...100_000_000)
    try ConfigurationError.check("cache-max-bytes", maxBytes, in: 1024...(1 << 44))
    guard refreshAhead.isFinite, refreshAhead >= 0, refreshAhead < 1 else {
      throw ConfigurationError("cache-refresh-ahead must be at least 0 and below 1, got \(refreshAhead)")
    }
    guard negativeShare.isFinite, negativeShare > 0, negativeShare <= 1 else {
      throw ConfigurationError("negative-cache-share must be above 0 and at most 1, got \(negativeShare)")
    }
  }
}

/// What the cache holds for a key.
@_spi(Benchmarks) public enum CachedValue {
  case row(StoredRow)
  /// The instance does not exist.
  case missing
  /// Redis holds something at the key that is not a feature row (a data error, remembered as
  /// briefly as a missing instance so a bad key does not cost a Redis read per request).
  case invalid

  var row: StoredRow? {
    if case .row(let row) = self { return row }
    return nil
  }

  /// An estimate of the memory the entry holds (key aside).
  var bytes: Int {
    if case .row(let row) = self { return row.approximateBytes }
    return 0
  }
}

/// A bounded TTL cache with no lock of its own: one shard of `SharedFeatureCache`, used under
/// that shard's lock. CLOCK eviction, entries for missing instances in a ring of their own, a
/// bound on entries and on bytes, and the callers waiting for a key being fetched
/// (single-flight).
@_spi(Benchmarks) public final class FeatureCache {
  struct Entry {
    var key: RowKey
    var value: CachedValue
    var bytes: Int
    var expiresAt: UInt64
    var staleUntil: UInt64
    var referenced: Bool
    /// A background refresh is under way (one per entry).
    var refreshing = false
  }

  /// A CLOCK ring of entries with its own bounds.
  struct Ring {
    var slots: [Entry] = []
    var hand = 0
    let capacity: Int
    var bytes = 0
  }

  @_spi(Benchmarks) public enum Lookup {
    /// `refresh`: the entry is near its expiry and the caller should refresh it in the
    /// background (each entry asks once).
    case fresh(CachedValue, refresh: Bool)
    /// Expired but still inside the stale-if-error window: use it only if Redis fails.
    case expired(CachedValue)
    case miss
  }

  private let ttl: UInt64
  private let negativeTTL: UInt64
  private let staleWindow: UInt64
  private let refreshWindow: UInt64
  let capacity: Int
  let maxBytes: Int
  /// Rows larger than this are not cached at all.
  let maxEntryBytes: Int
  /// rings[0]: rows; rings[1]: missing and invalid instances.
  private var rings: [Ring]
  private var index: [RowKey: (ring: Int, slot: Int)] = [:]
  private var waiters: [RowKey: [FetchWaiter]] = [:]
  /// Keys that changed in Redis while a fetch of them was under way: what it read is not kept.
  private var changedWhileFetching: Set<RowKey> = []
  /// Entries evicted to make room, since start.
  private(set) var evictions = 0

  /// What a (possibly shared) fetch ended with.
  enum FetchOutcome: Sendable {
    case found(StoredRow)
    case missing
    /// Redis answered with an error or a value that is not a hash: a data error.
    case invalid
    /// Redis failed; waiters look for an expired entry to serve stale.
    case failed(RedisError)

    var cached: CachedValue? {
      switch self {
      case .found(let row): .row(row)
      case .missing: .missing
      case .invalid: .invalid
      case .failed: nil
      }
    }
  }

  /// `maxEntryBytes`: rows larger than this are served, never cached (default: 1/64 of
  /// `maxBytes`).
  @_spi(Benchmarks) public init(
    configuration: CacheConfiguration, capacity: Int, maxBytes: Int = Int.max, maxEntryBytes: Int? = nil
  ) {
    ttl = nanoseconds(fromSeconds: configuration.ttl)
    negativeTTL = nanoseconds(fromSeconds: configuration.negativeTTL)
    staleWindow = nanoseconds(fromSeconds: configuration.staleIfError)
    refreshWindow = nanoseconds(fromSeconds: max(0, min(1, configuration.refreshAhead)) * configuration.ttl)
    self.capacity = max(2, capacity)
    self.maxBytes = max(1024, maxBytes)
    self.maxEntryBytes = min(self.maxBytes, maxEntryBytes ?? self.maxBytes / 64)
    let negatives = max(1, Int(Double(self.capacity) * max(0, min(1, configuration.negativeShare))))
    rings = [Ring(capacity: max(1, self.capacity - negatives)), Ring(capacity: negatives)]
    index.reserveCapacity(min(self.capacity, 65536))
  }

  /// Bytes held by cached entries (estimated).
  var bytes: Int { rings[0].bytes + rings[1].bytes }
  var entries: Int { index.count }
  /// Entries remembering a missing (or invalid) instance.
  var negativeEntries: Int { rings[1].slots.count }

  @_spi(Benchmarks) public func lookup(_ key: RowKey, now: UInt64) -> Lookup {
    guard let (ring, slot) = index[key] else { return .miss }
    // Fields read in place: copying the entry would retain its key and value once more.
    rings[ring].slots[slot].referenced = true
    let expiresAt = rings[ring].slots[slot].expiresAt
    if now < expiresAt {
      // Rows only: a missing instance is re-read when its short negative TTL ends.
      guard refreshWindow > 0, ring == 0, !rings[ring].slots[slot].refreshing, now &+ refreshWindow >= expiresAt
      else {
        return .fresh(rings[ring].slots[slot].value, refresh: false)
      }
      rings[ring].slots[slot].refreshing = true
      return .fresh(rings[ring].slots[slot].value, refresh: true)
    }
    if now < rings[ring].slots[slot].staleUntil { return .expired(rings[ring].slots[slot].value) }
    return .miss
  }

  @_spi(Benchmarks) public func store(_ key: RowKey, row: StoredRow?, now: UInt64) {
    store(key, row.map { .row($0) } ?? .missing, now: now)
  }

  /// Keeps `value` for `lifetime` ns (nil: the configured TTL of its kind; 0: not kept).
  func store(_ key: RowKey, _ value: CachedValue, now: UInt64, lifetime: UInt64? = nil) {
    let isRow = value.row != nil
    let bytes = value.bytes + key.bytes.count + 96  // the entry, its index slot and the key
    let lifetime = lifetime ?? (isRow ? ttl : negativeTTL)
    guard lifetime > 0 else { return }
    let entry = Entry(
      key: key, value: value, bytes: bytes, expiresAt: now &+ lifetime, staleUntil: now &+ lifetime &+ staleWindow,
      referenced: true)
    let ring = isRow ? 0 : 1
    if let existing = index[key] {
      if existing.ring == ring {
        rings[ring].bytes += bytes - rings[ring].slots[existing.slot].bytes
        rings[ring].slots[existing.slot] = entry
        evictOverBytes(ring: ring, keeping: key)
        return
      }
      remove(at: existing)
    }
    guard bytes <= maxEntryBytes else { return }  // too large to keep: served, never cached
    if rings[ring].slots.count < rings[ring].capacity {
      index[key] = (ring, rings[ring].slots.count)
      rings[ring].slots.append(entry)
      rings[ring].bytes += bytes
    } else {
      let slot = victim(ring: ring)
      let old = rings[ring].slots[slot]
      index.removeValue(forKey: old.key)
      rings[ring].bytes += bytes - old.bytes
      index[key] = (ring, slot)
      rings[ring].slots[slot] = entry
      evictions += 1
    }
    evictOverBytes(ring: ring, keeping: key)
  }

  /// CLOCK: sweeps past recently used entries (clearing their bit) to the first unused one.
  private func victim(ring: Int) -> Int {
    let count = rings[ring].slots.count
    while rings[ring].slots[rings[ring].hand].referenced {
      rings[ring].slots[rings[ring].hand].referenced = false
      rings[ring].hand = (rings[ring].hand + 1) % count
    }
    let slot = rings[ring].hand
    rings[ring].hand = (slot + 1) % count
    return slot
  }

  /// Evicts (CLOCK order) until the cache is within its byte bound, sparing the entry just
  /// stored.
  private func evictOverBytes(ring: Int, keeping key: RowKey) {
    while bytes > maxBytes && rings[ring].slots.count > 1 {
      var slot = victim(ring: ring)
      if rings[ring].slots[slot].key == key { slot = victim(ring: ring) }
      remove(at: (ring, slot))
      evictions += 1
    }
  }

  /// Removes an entry, moving the ring's last entry into its slot.
  private func remove(at position: (ring: Int, slot: Int)) {
    let (ring, slot) = position
    let removed = rings[ring].slots[slot]
    index.removeValue(forKey: removed.key)
    rings[ring].bytes -= removed.bytes
    let last = rings[ring].slots.removeLast()
    if slot < rings[ring].slots.count {
      rings[ring].slots[slot] = last
      index[last.key] = (ring, slot)
    }
    if rings[ring].hand >= rings[ring].slots.count { rings[ring].hand = 0 }
  }

  /// Drops the entry for `key`, if any (its row was just written).
  func remove(_ key: RowKey) {
    guard let position = index[key] else { return }
    remove(at: position)
  }

  /// The row at `key` changed in Redis: its entry goes, and a fetch under way will not keep
  /// what it read.
  func invalidate(_ key: RowKey) {
    remove(key)
    if waiters[key] != nil { changedWhileFetching.insert(key) }
  }

  /// This process stored one event in the window events hash at `key`, after which the hash
  /// held `length` fields (nil: the write's outcome is unknown). Redis does not tell this
  /// process of its own writes (tracking with NOLOOP), so this is how they reach the cache: a
  /// cached copy holding one field less than `length` takes the event and is then what Redis
  /// holds; any other copy goes (someone else changed the hash too, or old events were
  /// pruned). The entry's expiry does not move. A fetch under way does not keep what it read:
  /// it may have been read before the write.
  @discardableResult
  func applyOwnWrite(_ key: RowKey, event: StoredWindowEvents.Event?, length: Int?, now: UInt64) -> OwnWriteOutcome {
    if waiters[key] != nil { changedWhileFetching.insert(key) }
    guard let (ring, slot) = index[key] else { return .notCached }
    let entry = rings[ring].slots[slot]
    var events: StoredWindowEvents
    switch entry.value {
    case .row(.windowEvents(let cached)): events = cached
    case .missing: events = StoredWindowEvents()
    default:
      remove(at: (ring, slot))
      return .dropped
    }
    guard let event, let length, events.fields + 1 == length, now < entry.expiresAt else {
      remove(at: (ring, slot))
      return .dropped
    }
    events.append(event)
    let value = CachedValue.row(.windowEvents(events))
    let bytes = value.bytes + key.bytes.count + 96
    guard ring == 0 else {
      remove(at: (ring, slot))
      store(key, value, now: now, lifetime: entry.expiresAt - now)
      return .applied
    }
    if bytes > maxEntryBytes {
      remove(at: (0, slot))
      return .dropped
    }
    rings[0].bytes += bytes - entry.bytes
    rings[0].slots[slot].value = value
    rings[0].slots[slot].bytes = bytes
    evictOverBytes(ring: 0, keeping: key)
    return .applied
  }

  /// What `applyOwnWrite` did with the cached copy.
  enum OwnWriteOutcome: Int, CaseIterable {
    /// The copy took the event.
    case applied
    /// The copy went (it did not match what Redis holds, or the write's outcome is unknown).
    case dropped
    /// Nothing was cached for the key.
    case notCached

    var label: String {
      switch self {
      case .applied: "applied"
      case .dropped: "dropped"
      case .notCached: "not_cached"
      }
    }
  }

  /// Removes every entry whose key satisfies `predicate`.
  func removeAll(where predicate: (RowKey) -> Bool) {
    for key in index.keys where predicate(key) { remove(key) }
  }

  /// Single-flight: the first caller for `key` gets `true` and must fetch, later callers wait.
  func join(_ key: RowKey, _ waiter: FetchWaiter) -> Bool {
    if waiters[key] != nil {
      waiters[key]!.append(waiter)
      return false
    }
    waiters[key] = [waiter]
    return true
  }

  /// Ends a fetch: stores its result and returns the callers waiting for it, to be answered
  /// once the shard's lock is released.
  func finish(_ key: RowKey, _ outcome: FetchOutcome, now: UInt64, lifetime: UInt64? = nil) -> [FetchWaiter] {
    let changed = !changedWhileFetching.isEmpty && changedWhileFetching.remove(key) != nil
    if let value = outcome.cached, !changed {
      store(key, value, now: now, lifetime: lifetime)
    } else if let (ring, slot) = index[key] {
      rings[ring].slots[slot].refreshing = false  // a later hit may try again
    }
    return waiters.removeValue(forKey: key) ?? []
  }
}

/// A caller waiting for a fetch, answered on its own loop (nil: wherever the fetch ends).
struct FetchWaiter: @unchecked Sendable {
  let loop: EventLoop?
  /// Runs on `loop` only; it is why the waiter is `@unchecked Sendable`: it crosses to another
  /// thread only to be handed back to its own loop.
  let deliver: (FeatureCache.FetchOutcome) -> Void
}
