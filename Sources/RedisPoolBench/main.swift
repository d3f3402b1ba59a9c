// Drives one command through RedisPool with a fixed number in flight and prints throughput and
// latency percentiles, for bench/redis.sh.
//   redis-pool-bench --url redis://127.0.0.1:6379 --command "GET key" [--in-flight 50]
//                    [--pool-size 50] [--threads 1] [--seconds 10]
// Output (one line): ops_per_second p50_ms p99_ms errors
import Reactor
import RedisPool
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

var url = "redis://127.0.0.1:6379"
var commandText = "PING"
var inFlight = 50
var poolSize = 50
var threads = 1
var seconds = 10.0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let flag = arguments.next() {
  guard let value = arguments.next() else {
    writeDiagnostic("missing value for \(flag)")
    exit(2)
  }
  switch flag {
  case "--url": url = value
  case "--command": commandText = value
  case "--in-flight": inFlight = Int(value) ?? inFlight
  case "--pool-size": poolSize = Int(value) ?? poolSize
  case "--threads": threads = Int(value) ?? threads
  case "--seconds": seconds = Double(value) ?? seconds
  default:
    writeDiagnostic("unknown flag \(flag)")
    exit(2)
  }
}

/// Latency counts per microsecond up to 1 s (the last slot takes anything slower).
final class Recorder: @unchecked Sendable {
  var counts = [Int](repeating: 0, count: 1_000_001)
  var completed = 0
  var errors = 0
  func record(_ nanoseconds: UInt64) {
    counts[min(Int(nanoseconds / 1000), counts.count - 1)] += 1
    completed += 1
  }
}

do {
  var configuration = try RedisConfiguration(url: url)
  configuration.poolSize = poolSize
  let group = try EventLoopGroup(threads: threads)
  try group.start()
  let pool = try RedisPool(configuration: configuration, group: group)
  pool.start()
  var waited = 0
  while pool.statisticsSnapshot().connectionsUp < poolSize && waited < 500 {
    usleep(10_000)
    waited += 1
  }
  guard pool.statisticsSnapshot().connectionsUp == poolSize else {
    writeDiagnostic(
      "redis-pool-bench: only \(pool.statisticsSnapshot().connectionsUp) of \(poolSize) connections came up")
    exit(1)
  }
  let command = RedisCommand(arguments: commandText.split(separator: " ").map { Array($0.utf8) })
  let recorders = group.loops.map { _ in Recorder() }
  let deadline = monotonicNanoseconds() + nanoseconds(fromSeconds: seconds)
  let finished = Mutex<Int>(0)
  for loop in group.loops {
    let recorder = recorders[loop.index]
    let share = inFlight / threads + (loop.index < inFlight % threads ? 1 : 0)
    loop.execute {
      let loopPool = pool.on(loop)
      var outstanding = 0
      func issue() {
        let sent = monotonicNanoseconds()
        outstanding += 1
        loopPool.send(command) { result in
          outstanding -= 1
          let now = monotonicNanoseconds()
          if case .success(let value) = result, value != .null {
            if case .error = value { recorder.errors += 1 } else { recorder.record(now - sent) }
          } else {
            recorder.errors += 1
          }
          if now < deadline {
            issue()
          } else if outstanding == 0 {
            finished.withLock { $0 += 1 }
          }
        }
      }
      for _ in 0..<share { issue() }
    }
  }
  let start = monotonicNanoseconds()
  while finished.withLock({ $0 }) < threads { usleep(5_000) }
  let elapsed = Double(monotonicNanoseconds() - start) / 1e9
  var merged = [Int](repeating: 0, count: 1_000_001)
  var completed = 0
  var errors = 0
  for recorder in recorders {
    for index in merged.indices where recorder.counts[index] != 0 { merged[index] += recorder.counts[index] }
    completed += recorder.completed
    errors += recorder.errors
  }
  func percentile(_ fraction: Double) -> Double {
    let target = Int((Double(completed) * fraction).rounded(.up))
    var seen = 0
    for (microseconds, count) in merged.enumerated() {
      seen += count
      if seen >= target { return Double(microseconds) / 1000 }
    }
    return .nan
  }
  print(
    "\(Int(Double(completed) / elapsed)) \(percentile(0.5)) \(percentile(0.99)) \(errors)")
  group.stop()
  exit(0)
} catch {
  writeDiagnostic("redis-pool-bench: \(error)")
  exit(1)
}
