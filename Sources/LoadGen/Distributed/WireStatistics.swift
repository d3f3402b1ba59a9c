import Histogram

/// A latency histogram as it travels between worker and master: its non-empty buckets and its
/// exact minimum and maximum. Decoding gives back a histogram equal to the original, bucket for
/// bucket, with the same `min` and `max`: a fleet's merged percentiles are those of one
/// histogram fed every worker's raw values (Locust rounds to whole milliseconds instead).
struct WireHistogram: Codable, Sendable, Equatable {
  /// Pairs, flattened: the lowest value of a bucket, then its count.
  var buckets: [UInt64]
  var min: UInt64
  var max: UInt64

  init(buckets: [UInt64], min: UInt64, max: UInt64) {
    self.buckets = buckets
    self.min = min
    self.max = max
  }

  init(_ histogram: Histogram<UInt64>) {
    buckets = []
    for bucket in histogram.recordedValues() {
      buckets.append(histogram.lowestEquivalentForValue(bucket.value))
      buckets.append(bucket.count)
    }
    min = histogram.totalCount == 0 ? 0 : histogram.min
    max = histogram.maxRecorded
  }

  /// Records every bucket into `histogram` (empty, with the layout of `RequestStatistics`).
  /// The bucket holding the minimum is recorded at the minimum and the one holding the maximum
  /// at the maximum, so both extremes come back exactly. Nil when the data is not a histogram
  /// we could have sent (a value beyond the trackable range, an odd count of numbers, a count
  /// of 0, a minimum above the maximum).
  func restore(into histogram: inout Histogram<UInt64>) -> Bool {
    guard buckets.count % 2 == 0, min <= max, max <= histogram.highestTrackableValue else { return false }
    if buckets.isEmpty { return true }
    var index = 0
    while index < buckets.count {
      let value = buckets[index]
      let count = buckets[index + 1]
      index += 2
      guard count > 0, value <= max else { return false }
      let holdsMinimum = histogram.valuesAreEquivalent(value, min)
      let holdsMaximum = histogram.valuesAreEquivalent(value, max)
      if holdsMinimum && holdsMaximum && count >= 2 && min != max {
        guard histogram.record(min, count: count - 1), histogram.record(max) else { return false }
      } else if holdsMaximum {
        guard histogram.record(max, count: count) else { return false }
      } else if holdsMinimum {
        guard histogram.record(min, count: count) else { return false }
      } else {
        guard value >= min, histogram.record(value, count: count) else { return false }
      }
    }
    return true
  }
}

/// What one worker's report of one second can hold. A report beyond these did not come from a
/// worker's measurements; refusing it keeps every sum the master keeps far from overflow.
enum WireLimits {
  /// Requests (and open-loop schedulings) in one report: 1e9, a hundred times what a
  /// loadgen process drives in a second.
  static let requestsPerReport = 1_000_000_000
  /// The client parser's own bound on a response body (64 MiB).
  static let bodyBytesPerResponse = 64 * 1024 * 1024
}

/// `RequestStatistics` on the wire.
struct WireRequestStatistics: Codable, Sendable {
  var method: String
  var name: String
  var histogram: WireHistogram
  var requests: Int
  var failures: Int
  var totalMicroseconds: UInt64
  var contentBytes: Int

  init(_ statistics: RequestStatistics) {
    method = statistics.method
    name = statistics.name
    histogram = WireHistogram(statistics.histogram)
    requests = statistics.requests
    failures = statistics.failures
    totalMicroseconds = statistics.totalMicroseconds
    contentBytes = statistics.contentBytes
  }

  /// Nil unless the counts agree with the histogram and stay within what one worker can
  /// measure in a second (`WireLimits`), so that merging them can never overflow.
  func restored() -> RequestStatistics? {
    var statistics = RequestStatistics(method: method, name: name)
    guard requests >= 0, requests <= WireLimits.requestsPerReport, failures >= 0, failures <= requests,
      contentBytes >= 0, contentBytes <= requests * WireLimits.bodyBytesPerResponse,
      histogram.restore(into: &statistics.histogram), UInt64(requests) == statistics.histogram.totalCount,
      totalMicroseconds <= UInt64(requests) * statistics.histogram.maxRecorded
    else { return nil }
    statistics.requests = requests
    statistics.failures = failures
    statistics.totalMicroseconds = totalMicroseconds
    statistics.contentBytes = contentBytes
    return statistics
  }
}

struct WireFailure: Codable, Sendable {
  var method: String
  var name: String
  var error: String
  var occurrences: Int
  var firstSeen: Double
  var lastSeen: Double
}

/// `LoadStatistics` (one interval's delta) on the wire.
struct WireLoadStatistics: Codable, Sendable {
  var entries: [WireRequestStatistics]
  var failures: [WireFailure]
  var lateStarts: Int
  var maxLagMicroseconds: UInt64
  var scheduled: Int

  init(_ statistics: LoadStatistics) {
    entries = statistics.entries.map(WireRequestStatistics.init)
    failures = statistics.failures.map { key, record in
      WireFailure(
        method: key.method, name: key.name, error: key.error, occurrences: record.occurrences,
        firstSeen: record.firstSeen, lastSeen: record.lastSeen)
    }
    lateStarts = statistics.lateStarts
    maxLagMicroseconds = statistics.maxLagMicroseconds
    scheduled = statistics.scheduled
  }

  /// Nil when any part is not what a worker could have measured.
  func restored() -> LoadStatistics? {
    var statistics = LoadStatistics()
    // The report's totals, checked before anything is merged: entries each within bounds can
    // still add up past them (or past Int) when a frame carries many.
    var requests = 0
    var microseconds: UInt64 = 0
    var contentBytes = 0
    for entry in entries {
      guard let restored = entry.restored() else { return nil }
      let (moreRequests, requestsOverflow) = requests.addingReportingOverflow(restored.requests)
      let (moreMicroseconds, microsecondsOverflow) = microseconds.addingReportingOverflow(restored.totalMicroseconds)
      let (moreBytes, bytesOverflow) = contentBytes.addingReportingOverflow(restored.contentBytes)
      guard !requestsOverflow, !microsecondsOverflow, !bytesOverflow, moreRequests <= WireLimits.requestsPerReport
      else { return nil }
      (requests, microseconds, contentBytes) = (moreRequests, moreMicroseconds, moreBytes)
      statistics.entries[statistics.slot(method: entry.method, name: entry.name)].merge(restored)
    }
    // Every failure was also a request: their occurrences cannot outnumber the requests.
    var occurrences = 0
    for failure in failures {
      guard failure.occurrences > 0, failure.occurrences <= requests - occurrences else { return nil }
      occurrences += failure.occurrences
      let key = FailureKey(method: failure.method, name: failure.name, error: failure.error)
      var merged = LoadStatistics()
      merged.failures[key] = FailureRecord(
        occurrences: failure.occurrences, firstSeen: failure.firstSeen, lastSeen: failure.lastSeen)
      statistics.merge(merged)
    }
    guard scheduled >= 0, scheduled <= WireLimits.requestsPerReport, lateStarts >= 0, lateStarts <= scheduled,
      maxLagMicroseconds <= 3_600_000_000_000
    else { return nil }
    statistics.lateStarts = lateStarts
    statistics.maxLagMicroseconds = maxLagMicroseconds
    statistics.scheduled = scheduled
    return statistics
  }
}
