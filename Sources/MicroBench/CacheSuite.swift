@_spi(Benchmarks) import FeatureServer
import RedisPool

/// A cache hit on the request path: one FeatureCache per loop (as before the cache was shared)
/// against the SharedFeatureCache the server runs (a FeatureCache per shard behind a mutex). Random keys over the 5 000 bundled customers,
/// every lookup a hit. Prints "per_loop_ns shared_ns" per lookup per thread.
func cacheSuite(threads: Int, iterations: Int) throws {
  let keyCount = 5000
  let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
  guard let customer = registry.entity(named: "customer") else { fatalError("no customer entity") }
  let hash: [RedisValue] = customer.features.flatMap { [.bulk(Array($0.name.utf8)), .bulk(Array("42".utf8))] }
  guard let row = FeatureRow(hash: hash, entity: customer) else { fatalError("row did not decode") }
  let keys = (1...keyCount).map { RowKey("fs:customer:\($0)") }
  var configuration = CacheConfiguration()
  configuration.ttl = 3600
  let now: UInt64 = 1

  let perLoop = UnsafeBox(
    (0..<threads).map { _ -> FeatureCache in
      let cache = FeatureCache(configuration: configuration, capacity: 100_000 / threads)
      for key in keys { cache.store(key, row: .native(row), now: now) }
      return cache
    })
  let ours = measure(threads: threads, iterations: iterations) { thread in
    let cache = perLoop.value[thread]
    var seed = UInt64(thread + 1) &* 0x9E37_79B9_7F4A_7C15
    var hits = 0
    for _ in 0..<iterations {
      seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      if case .fresh = cache.lookup(keys[Int(seed >> 33) % keyCount], now: now) { hits += 1 }
    }
    return hits
  }

  let sharedCache = SharedFeatureCache(configuration: configuration)
  for key in keys { sharedCache.store(key, row: .native(row), now: now) }
  let shared = measure(threads: threads, iterations: iterations) { thread in
    var seed = UInt64(thread + 1) &* 0x9E37_79B9_7F4A_7C15
    var hits = 0
    for _ in 0..<iterations {
      seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      if case .fresh = sharedCache.lookup(keys[Int(seed >> 33) % keyCount], now: now) { hits += 1 }
    }
    return hits
  }
  precondition(ours.total == threads * iterations && shared.total == threads * iterations, "every lookup must hit")
  print(String(format: "%.1f %.1f", ours.nanoseconds, shared.nanoseconds))
}
