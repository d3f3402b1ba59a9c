import Reactor
import Synchronization

/// The one cache every loop reads: shards chosen by the key's hash, each a `FeatureCache`
/// behind its own mutex, so a row fetched on one loop is a hit on every other and a key missed
/// on several loops at once is fetched once (single-flight across loops: the waiters are
/// answered on their own loops).
///
/// Why shared and not one cache per loop: per loop, a hot key is read from Redis once per loop
/// per TTL, the configured entries are split `threads` ways, and a second request on another
/// connection can miss; Redis load grows with the core count and the hit ratio falls with it.
/// A lookup costs one uncontended lock more (measured in BENCHMARKS.md, `bench/cache.sh`);
/// with at least 4 shards per loop, two loops rarely want the same shard at once.
@_spi(Benchmarks) public final class SharedFeatureCache: @unchecked Sendable {
  /// One shard: its cache is touched only inside `lock`.
  final class Shard: @unchecked Sendable {
    let lock = Mutex<Void>(())
    let cache: FeatureCache
    init(_ cache: FeatureCache) { self.cache = cache }

    @inline(__always)
    func locked<T>(_ body: (FeatureCache) -> T) -> T {
      lock.withLock { _ in body(cache) }
    }
  }

  let shards: [Shard]
  private let shardMask: Int

  /// Splits `configuration.maxEntries` and `maxBytes` evenly over the shards: a power of two,
  /// at most `maxShards`, fewer when the bounds are small (each shard keeps at least 256
  /// entries and 1 MiB, so a small cache is not cut into slivers that evict early).
  @_spi(Benchmarks) public init(configuration: CacheConfiguration, maxShards: Int = 64) {
    var count = 1
    while count < maxShards && configuration.maxEntries / (count * 2) >= 256
      && configuration.maxBytes / (count * 2) >= 1 << 20
    {
      count *= 2
    }
    let maxEntryBytes = max(1, configuration.maxBytes / 64)
    shards = (0..<count).map { _ in
      Shard(
        FeatureCache(
          configuration: configuration, capacity: max(2, configuration.maxEntries / count),
          maxBytes: max(1024, configuration.maxBytes / count), maxEntryBytes: maxEntryBytes))
    }
    shardMask = count - 1
  }

  @inline(__always)
  func shard(_ key: RowKey) -> Shard {
    // The high bits: the shard's own dictionary hashes the same value for its buckets.
    shards[Int(truncatingIfNeeded: UInt(bitPattern: key.hashCode) >> 40) & shardMask]
  }

  @_spi(Benchmarks) public func lookup(_ key: RowKey, now: UInt64) -> FeatureCache.Lookup {
    shard(key).locked { $0.lookup(key, now: now) }
  }

  @_spi(Benchmarks) public func store(_ key: RowKey, row: StoredRow?, now: UInt64) {
    shard(key).locked { $0.store(key, row: row, now: now) }
  }

  /// Drops the entry for `key`, if any (its row was just written). Safe from any thread.
  func remove(_ key: RowKey) {
    shard(key).locked { $0.remove(key) }
  }

  /// Single-flight: the first caller for `key` (on any loop) gets `true` and must fetch; later
  /// callers wait and are answered on `loop` when it ends.
  func join(_ key: RowKey, loop: EventLoop, _ deliver: @escaping (FeatureCache.FetchOutcome) -> Void) -> Bool {
    shard(key).locked { $0.join(key, FetchWaiter(loop: loop, deliver: deliver)) }
  }

  /// Ends a fetch (on the loop that made it): stores its result, then answers every waiter, on
  /// this loop directly and on other loops through their inboxes, one hop per loop.
  /// `lifetime` is asked under the shard's lock (see `RowSource.cacheLifetime(since:)`).
  func finish(
    _ key: RowKey, _ outcome: FeatureCache.FetchOutcome, now: UInt64, on loop: EventLoop,
    lifetime: () -> UInt64? = { nil }
  ) {
    let waiters = shard(key).locked { $0.finish(key, outcome, now: now, lifetime: lifetime()) }
    if waiters.count == 1 && waiters[0].loop === loop { return waiters[0].deliver(outcome) }
    var elsewhere: [ObjectIdentifier: [FetchWaiter]] = [:]
    for waiter in waiters {
      guard let other = waiter.loop, other !== loop else {
        waiter.deliver(outcome)
        continue
      }
      elsewhere[ObjectIdentifier(other), default: []].append(waiter)
    }
    for (_, group) in elsewhere {
      let handOff = WaiterGroup(waiters: group, outcome: outcome)
      // A loop that has stopped for good drops the work: its connections are gone too.
      group[0].loop?.execute { handOff.deliver() }
    }
  }

  /// Drops entries whose keys changed in Redis; a fetch of one of them under way answers its
  /// callers but does not keep what it read (it may have read the value before the change).
  func invalidate(_ keys: [[UInt8]]) {
    for bytes in keys {
      let key = RowKey(bytes)
      shard(key).locked { $0.invalidate(key) }
    }
  }

  /// See `FeatureCache.applyOwnWrite`. Safe from any thread.
  func applyOwnWrite(
    _ key: RowKey, event: StoredWindowEvents.Event?, length: Int?, now: UInt64
  ) -> FeatureCache.OwnWriteOutcome {
    shard(key).locked { $0.applyOwnWrite(key, event: event, length: length, now: now) }
  }

  /// Drops every entry whose key starts with `prefix`, shard by shard.
  func removeAll(withPrefix prefix: [UInt8]) {
    for shard in shards {
      shard.locked { $0.removeAll { $0.bytes.starts(with: prefix) } }
    }
  }

  /// Entries (and of them, those remembering a missing instance), estimated bytes and
  /// evictions over all shards (for /metrics).
  var totals: (entries: Int, negativeEntries: Int, bytes: Int, evictions: Int) {
    var totals = (entries: 0, negativeEntries: 0, bytes: 0, evictions: 0)
    for shard in shards {
      shard.locked { cache in
        totals.entries += cache.entries
        totals.negativeEntries += cache.negativeEntries
        totals.bytes += cache.bytes
        totals.evictions += cache.evictions
      }
    }
    return totals
  }
}

/// Waiters of one loop for one fetch, handed to that loop.
private struct WaiterGroup: @unchecked Sendable {
  let waiters: [FetchWaiter]
  let outcome: FeatureCache.FetchOutcome

  func deliver() {
    for waiter in waiters { waiter.deliver(outcome) }
  }
}
