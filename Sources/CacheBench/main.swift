// Per-loop caches against one shared, sharded cache: the cost of a cache hit on the request
// path, from 1 or more threads at once (as event loops would). Both use featureserver's
// FeatureCache; the shared one puts 16 of them behind one mutex each, keyed by hash. Keys are
// the bundled customers' (fs:customer:1...5000), picked at random, every lookup a hit.
// For bench/cache.sh.
//   cache-bench --threads 2 --iterations 5000000
// Output (one line): per_loop_ns shared_ns (per lookup per thread)
@_spi(Benchmarks) import FeatureServer
import Foundation
import RedisPool

func option(_ name: String, default value: Int) -> Int {
  guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
    let parsed = Int(CommandLine.arguments[index + 1]), parsed > 0
  else { return value }
  return parsed
}
let threads = option("--threads", default: 1)
let iterations = option("--iterations", default: 5_000_000)
let keyCount = 5000

let registry = try RegistryLoader.load(path: RegistryLoader.bundledPath)
guard let customer = registry.entity(named: "customer") else { fatalError("no customer entity") }
let hash: [RedisValue] = customer.features.flatMap { [.bulk(Array($0.name.utf8)), .bulk(Array("42".utf8))] }
guard let row = FeatureRow(hash: hash, entity: customer) else { fatalError("row did not decode") }
let keys = (1...keyCount).map { "fs:customer:\($0)" }
var configuration = CacheConfiguration()
configuration.ttl = 3600

/// One mutex-guarded shard of the shared cache.
final class Shard: @unchecked Sendable {
  let lock = NSLock()
  let cache: FeatureCache
  init(_ cache: FeatureCache) { self.cache = cache }
}

func measure(_ body: @escaping @Sendable (Int) -> Int) -> Double {
  let start = DispatchSemaphore(value: 0)
  let done = DispatchGroup()
  let hits = Collected()
  for thread in 0..<threads {
    done.enter()
    Thread.detachNewThread {
      start.wait()
      hits.add(body(thread))
      done.leave()
    }
  }
  let begin = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<threads { start.signal() }
  done.wait()
  let elapsed = Double(DispatchTime.now().uptimeNanoseconds - begin) / Double(iterations)
  precondition(hits.total == threads * iterations, "every lookup must hit")
  return elapsed
}

final class Collected: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var total = 0
  func add(_ value: Int) { lock.withLock { total += value } }
}

let now: UInt64 = 1
let perLoop = (0..<threads).map { _ -> FeatureCache in
  let cache = FeatureCache(
    configuration: configuration, capacity: 100_000 / threads, metrics: LoopMetrics(entityCount: 4))
  for key in keys { cache.store(key, row: row, now: now) }
  return cache
}
let perLoopBox = UnsafeBox(perLoop)
let perLoopNanoseconds = measure { thread in
  let cache = perLoopBox.value[thread]
  var seed = UInt64(thread + 1) &* 0x9E37_79B9_7F4A_7C15
  var hits = 0
  for _ in 0..<iterations {
    seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    if case .fresh = cache.lookup(keys[Int(seed >> 33) % keyCount], now: now) { hits += 1 }
  }
  return hits
}

let shards = (0..<16).map { _ in
  Shard(FeatureCache(configuration: configuration, capacity: 100_000 / 16, metrics: LoopMetrics(entityCount: 4)))
}
for key in keys { shards[abs(key.hashValue) % 16].cache.store(key, row: row, now: now) }
let sharedNanoseconds = measure { thread in
  var seed = UInt64(thread + 1) &* 0x9E37_79B9_7F4A_7C15
  var hits = 0
  for _ in 0..<iterations {
    seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    let key = keys[Int(seed >> 33) % keyCount]
    let shard = shards[abs(key.hashValue) % 16]
    let found = shard.lock.withLock { () -> Bool in
      if case .fresh = shard.cache.lookup(key, now: now) { return true }
      return false
    }
    if found { hits += 1 }
  }
  return hits
}
print(String(format: "%.1f %.1f", perLoopNanoseconds, sharedNanoseconds))

struct UnsafeBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
