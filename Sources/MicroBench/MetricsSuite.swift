@_spi(Benchmarks) import FeatureServer
import Prometheus

/// What counting one request costs (requests counter + 18-bucket latency histogram): the
/// server's per-loop relaxed atomics against swift-prometheus (shared atomic counter,
/// mutex-guarded histogram). Prints "ours_ns prometheus_ns" per request per thread.
func metricsSuite(threads: Int, iterations: Int) {
  // A spread of latencies (ns) so the histograms walk different buckets.
  let latencies: [UInt64] = (0..<1024).map { UInt64(150_000 + ($0 * 7919) % 2_500_000) }
  let ours = UnsafeBox((0..<threads).map { _ in LoopMetrics(entityCount: 4) })
  let oursResult = measure(threads: threads, iterations: iterations) { thread in
    let metrics = ours.value[thread]
    for index in 0..<iterations {
      metrics.recordRequest(.features, status: 200, nanoseconds: latencies[index & 1023])
    }
    return iterations
  }
  let registry = PrometheusCollectorRegistry()
  let counter = registry.makeCounter(
    name: "featureserver_http_requests_total",
    labels: [("route", "/features/:entity/:id"), ("method", "GET"), ("status", "200")])
  let histogram = registry.makeDurationHistogram(
    name: "featureserver_http_request_duration_seconds", labels: [("route", "/features/:entity/:id")],
    buckets: [
      .microseconds(100), .microseconds(250), .microseconds(500), .microseconds(750), .milliseconds(1),
      .microseconds(1500), .milliseconds(2), .milliseconds(3), .milliseconds(4), .milliseconds(5),
      .microseconds(7500), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
      .milliseconds(250), .milliseconds(500), .seconds(1),
    ])
  let theirs = measure(threads: threads, iterations: iterations) { _ in
    for index in 0..<iterations {
      counter.increment()
      histogram.record(.nanoseconds(Int64(latencies[index & 1023])))
    }
    return iterations
  }
  var exported: [UInt8] = []
  registry.emit(into: &exported)  // keeps the results observable
  precondition(!exported.isEmpty && oursResult.total == theirs.total)
  print(String(format: "%.1f %.1f", oursResult.nanoseconds, theirs.nanoseconds))
}
