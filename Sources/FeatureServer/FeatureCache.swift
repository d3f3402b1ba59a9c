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
  /// Entries per process (split evenly over the loops); the least recently used go first.
  public var maxEntries = 100_000
  /// A hit in the last `refreshAhead` share of an entry's TTL refreshes it from Redis in the
  /// background, so keys read steadily never expire on the request path; 0 turns it off.
  public var refreshAhead = 0.2

  public init() {}

  public var enabled: Bool { ttl > 0 && maxEntries > 0 }
}

/// A bounded TTL cache owned by one loop (no locks): CLOCK eviction, negative entries for
/// missing instances, and single-flight of concurrent misses for one key.
///
/// Why per loop and not one shared, sharded cache: a request never leaves its loop, so a
/// shared cache would need a lock (or a hop) on every lookup; per-loop costs up to one Redis
/// read per loop for each key and `threads` times the memory for the hot set. See
/// BENCHMARKS.md.
@_spi(Benchmarks) public final class FeatureCache {
  struct Entry {
    var key: String
    /// nil: a negative entry (the instance does not exist).
    var row: FeatureRow?
    var expiresAt: UInt64
    var staleUntil: UInt64
    var referenced: Bool
    /// A background refresh is under way (one per entry).
    var refreshing = false
  }

  @_spi(Benchmarks) public enum Lookup {
    /// `refresh`: the entry is near its expiry and the caller should refresh it in the
    /// background (each entry asks once).
    case fresh(FeatureRow?, refresh: Bool)
    /// Expired but still inside the stale-if-error window: use it only if Redis fails.
    case expired(FeatureRow?)
    case miss
  }

  private let ttl: UInt64
  private let negativeTTL: UInt64
  private let staleWindow: UInt64
  private let refreshWindow: UInt64
  let capacity: Int
  private var slots: [Entry] = []
  private var index: [String: Int] = [:]
  private var hand = 0
  private var waiters: [String: [(FetchOutcome) -> Void]] = [:]
  let metrics: LoopMetrics

  /// What a (possibly shared) fetch ended with.
  enum FetchOutcome {
    case found(FeatureRow)
    case missing
    /// Redis failed; waiters look for an expired entry to serve stale.
    case failed(RedisError)
  }

  @_spi(Benchmarks) public init(configuration: CacheConfiguration, capacity: Int, metrics: LoopMetrics) {
    ttl = nanoseconds(fromSeconds: configuration.ttl)
    negativeTTL = nanoseconds(fromSeconds: configuration.negativeTTL)
    staleWindow = nanoseconds(fromSeconds: configuration.staleIfError)
    refreshWindow = nanoseconds(fromSeconds: max(0, min(1, configuration.refreshAhead)) * configuration.ttl)
    self.capacity = max(1, capacity)
    self.metrics = metrics
    index.reserveCapacity(min(self.capacity, 65536))
  }

  @_spi(Benchmarks) public func lookup(_ key: String, now: UInt64) -> Lookup {
    guard let slot = index[key] else { return .miss }
    slots[slot].referenced = true
    let entry = slots[slot]
    if now < entry.expiresAt {
      // Positive entries only: a missing instance is re-read when its short negative TTL ends.
      guard refreshWindow > 0, entry.row != nil, !entry.refreshing, now &+ refreshWindow >= entry.expiresAt else {
        return .fresh(entry.row, refresh: false)
      }
      slots[slot].refreshing = true
      return .fresh(entry.row, refresh: true)
    }
    if now < entry.staleUntil { return .expired(entry.row) }
    return .miss
  }

  @_spi(Benchmarks) public func store(_ key: String, row: FeatureRow?, now: UInt64) {
    let lifetime = row == nil ? negativeTTL : ttl
    let entry = Entry(
      key: key, row: row, expiresAt: now &+ lifetime, staleUntil: now &+ lifetime &+ staleWindow, referenced: true)
    if let slot = index[key] {
      slots[slot] = entry
      return
    }
    if slots.count < capacity {
      index[key] = slots.count
      slots.append(entry)
      metrics.cacheEntries.wrappingIncrement(ordering: .relaxed)
      return
    }
    // CLOCK: sweep past recently used entries (clearing their bit) to the first unused one.
    while slots[hand].referenced {
      slots[hand].referenced = false
      hand = (hand + 1) % capacity
    }
    index.removeValue(forKey: slots[hand].key)
    index[key] = hand
    slots[hand] = entry
    hand = (hand + 1) % capacity
    metrics.cacheEvictions.wrappingIncrement(ordering: .relaxed)
  }

  /// Single-flight: the first caller for `key` gets `true` and must fetch, later callers wait.
  func join(_ key: String, _ waiter: @escaping (FetchOutcome) -> Void) -> Bool {
    if waiters[key] != nil {
      waiters[key]!.append(waiter)
      return false
    }
    waiters[key] = [waiter]
    return true
  }

  /// Ends a fetch: stores its result and answers every waiter.
  func finish(_ key: String, _ outcome: FetchOutcome, now: UInt64) {
    switch outcome {
    case .found(let row): store(key, row: row, now: now)
    case .missing: store(key, row: nil, now: now)
    case .failed:
      if let slot = index[key] { slots[slot].refreshing = false }  // a later hit may try again
    }
    guard let waiting = waiters.removeValue(forKey: key) else { return }
    for waiter in waiting { waiter(outcome) }
  }
}
