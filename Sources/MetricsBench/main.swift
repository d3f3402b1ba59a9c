// What counting one request costs: a requests counter and a latency histogram, recorded the way
// featureserver does it (per-loop relaxed atomics, summed at scrape) and with swift-prometheus
// (shared atomic counter, mutex-guarded histogram), from 1 or more threads at once, as event
// loops would. For bench/metrics.sh.
//   metrics-bench --threads 2 --iterations 5000000
// Output (one line): ours_ns_per_request prometheus_ns_per_request
@_spi(Benchmarks) import FeatureServer
import Foundation
import Prometheus

func option(_ name: String, default value: Int) -> Int {
  guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
    let parsed = Int(CommandLine.arguments[index + 1]), parsed > 0
  else { return value }
  return parsed
}
let threads = option("--threads", default: 1)
let iterations = option("--iterations", default: 5_000_000)

/// Runs `body(thread)` on `threads` threads at once; returns nanoseconds per iteration.
func measure(_ body: @escaping @Sendable (Int) -> Void) -> Double {
  let start = DispatchSemaphore(value: 0)
  let done = DispatchGroup()
  for thread in 0..<threads {
    done.enter()
    Thread.detachNewThread {
      start.wait()
      body(thread)
      done.leave()
    }
  }
  let begin = DispatchTime.now().uptimeNanoseconds
  for _ in 0..<threads { start.signal() }
  done.wait()
  return Double(DispatchTime.now().uptimeNanoseconds - begin) / Double(iterations)
}

// A realistic spread of latencies (ns) so the histogram walks different buckets.
let latencies: [UInt64] = (0..<1024).map { UInt64(150_000 + ($0 * 7919) % 2_500_000) }

let ours = (0..<threads).map { _ in LoopMetrics(entityCount: 4) }
let oursNanoseconds = measure { thread in
  let metrics = ours[thread]
  for index in 0..<iterations {
    metrics.recordRequest(.features, status: 200, nanoseconds: latencies[index & 1023])
  }
}

let registry = PrometheusCollectorRegistry()
let counter = registry.makeCounter(
  name: "featureserver_http_requests_total",
  labels: [("route", "/features/:entity/:id"), ("method", "GET"), ("status", "200")])
let histogram = registry.makeDurationHistogram(
  name: "featureserver_http_request_duration_seconds", labels: [("route", "/features/:entity/:id")],
  buckets: [
    .microseconds(100), .microseconds(250), .microseconds(500), .microseconds(750), .milliseconds(1),
    .microseconds(1500), .milliseconds(2), .milliseconds(3), .milliseconds(4), .milliseconds(5), .microseconds(7500),
    .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
    .milliseconds(500), .seconds(1),
  ])
let prometheusNanoseconds = measure { _ in
  for index in 0..<iterations {
    counter.increment()
    histogram.record(.nanoseconds(Int64(latencies[index & 1023])))
  }
}

// Keep the results observable so nothing is optimised away.
var sink: [UInt8] = []
registry.emit(into: &sink)
precondition(!sink.isEmpty)
withExtendedLifetime(ours) {}
print(String(format: "%.1f %.1f", oursNanoseconds, prometheusNanoseconds))
