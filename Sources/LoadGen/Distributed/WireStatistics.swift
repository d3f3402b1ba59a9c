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

  func restored() -> RequestStatistics? {
    var statistics = RequestStatistics(method: method, name: name)
    guard histogram.restore(into: &statistics.histogram), requests >= 0, failures >= 0, failures <= requests,
      contentBytes >= 0, UInt64(requests) == statistics.histogram.totalCount
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
    for entry in entries {
      guard let restored = entry.restored() else { return nil }
      statistics.entries[statistics.slot(method: entry.method, name: entry.name)].merge(restored)
    }
    for failure in failures {
      guard failure.occurrences > 0 else { return nil }
      let key = FailureKey(method: failure.method, name: failure.name, error: failure.error)
      var merged = LoadStatistics()
      merged.failures[key] = FailureRecord(
        occurrences: failure.occurrences, firstSeen: failure.firstSeen, lastSeen: failure.lastSeen)
      statistics.merge(merged)
    }
    guard lateStarts >= 0, scheduled >= 0 else { return nil }
    statistics.lateStarts = lateStarts
    statistics.maxLagMicroseconds = maxLagMicroseconds
    statistics.scheduled = scheduled
    return statistics
  }
}
