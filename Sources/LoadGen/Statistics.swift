import Histogram

/// Response times of one request name, in microseconds (HdrHistogram, 3 significant digits),
/// with counts, failures and content sizes. Each loop keeps its own; they merge for reports.
public struct RequestStatistics: Sendable {
  public var method: String
  public var name: String
  public var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
  public var requests = 0
  public var failures = 0
  public var totalMicroseconds: UInt64 = 0
  public var contentBytes = 0

  public init(method: String, name: String) {
    self.method = method
    self.name = name
    histogram.autoResize = true
  }

  mutating func record(microseconds: UInt64, contentBytes: Int, failed: Bool) {
    _ = histogram.record(max(1, microseconds))
    requests += 1
    totalMicroseconds += microseconds
    self.contentBytes += contentBytes
    if failed { failures += 1 }
  }

  public mutating func merge(_ other: RequestStatistics) {
    histogram.add(other.histogram)
    requests += other.requests
    failures += other.failures
    totalMicroseconds += other.totalMicroseconds
    contentBytes += other.contentBytes
  }

  /// Milliseconds at `percentile` (0–100); 0 without samples.
  public func milliseconds(atPercentile percentile: Double) -> Double {
    histogram.totalCount == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
  }

  public var averageMilliseconds: Double { requests == 0 ? 0 : Double(totalMicroseconds) / Double(requests) / 1000 }
  public var minMilliseconds: Double { histogram.totalCount == 0 ? 0 : Double(histogram.min) / 1000 }
  public var maxMilliseconds: Double { histogram.totalCount == 0 ? 0 : Double(histogram.max) / 1000 }
  public var medianMilliseconds: Double { milliseconds(atPercentile: 50) }
  public var averageContentSize: Double { requests == 0 ? 0 : Double(contentBytes) / Double(requests) }
  public var failureRatio: Double { requests == 0 ? 0 : Double(failures) / Double(requests) }
}

/// The figures of a `RequestStatistics` at one moment, without its histogram: what each second's
/// history point keeps of the run so far. (A histogram is ~190 KB of counts; one per second made
/// an hour's run hold 680 MB.)
public struct StatisticsSummary: Sendable {
  public var requests: Int
  public var failures: Int
  public var averageMilliseconds: Double
  public var minMilliseconds: Double
  public var maxMilliseconds: Double
  public var medianMilliseconds: Double
  public var averageContentSize: Double
  public var failureRatio: Double
  /// At each of `reportedPercentiles`, in order.
  public var percentileMilliseconds: [Double]

  public init(_ statistics: RequestStatistics) {
    requests = statistics.requests
    failures = statistics.failures
    averageMilliseconds = statistics.averageMilliseconds
    minMilliseconds = statistics.minMilliseconds
    maxMilliseconds = statistics.maxMilliseconds
    medianMilliseconds = statistics.medianMilliseconds
    averageContentSize = statistics.averageContentSize
    failureRatio = statistics.failureRatio
    percentileMilliseconds = reportedPercentiles.map { statistics.milliseconds(atPercentile: $0) }
  }

  /// Milliseconds at one of `reportedPercentiles` (p99 for the live line); 0 for any other.
  public func milliseconds(atPercentile percentile: Double) -> Double {
    reportedPercentiles.firstIndex(of: percentile).map { percentileMilliseconds[$0] } ?? 0
  }
}

/// Why a request failed, as reported in the failures table and `_failures.csv`.
public struct FailureKey: Hashable, Sendable {
  public var method: String
  public var name: String
  /// e.g. "connect failed: ...", "request timed out", "HTTP 503", "unexpected status 404 (expected 200)".
  public var error: String
}

public struct FailureRecord: Sendable {
  public var occurrences = 0
  /// Epoch seconds.
  public var firstSeen: Double
  public var lastSeen: Double
}

/// Everything one loop measured; merged across loops for reports.
public struct LoadStatistics: Sendable {
  /// Per request name, in first-seen order.
  public var entries: [RequestStatistics] = []
  var index: [String: Int] = [:]
  public var failures: [FailureKey: FailureRecord] = [:]
  /// Requests the open-loop scheduler started more than `lateThreshold` after their time.
  public var lateStarts = 0
  /// The largest such lag, in microseconds.
  public var maxLagMicroseconds: UInt64 = 0
  /// Requests scheduled in open-loop mode.
  public var scheduled = 0

  public init() {}

  mutating func slot(method: String, name: String) -> Int {
    let key = method + " " + name
    if let existing = index[key] { return existing }
    entries.append(RequestStatistics(method: method, name: name))
    index[key] = entries.count - 1
    return entries.count - 1
  }

  mutating func recordFailure(_ key: FailureKey, now: Double) {
    if var record = failures[key] {
      record.occurrences += 1
      record.lastSeen = now
      failures[key] = record
    } else {
      failures[key] = FailureRecord(occurrences: 1, firstSeen: now, lastSeen: now)
    }
  }

  public mutating func merge(_ other: LoadStatistics) {
    for entry in other.entries {
      let position = slot(method: entry.method, name: entry.name)
      entries[position].merge(entry)
    }
    for (key, record) in other.failures {
      if var mine = failures[key] {
        mine.occurrences += record.occurrences
        mine.firstSeen = min(mine.firstSeen, record.firstSeen)
        mine.lastSeen = max(mine.lastSeen, record.lastSeen)
        failures[key] = mine
      } else {
        failures[key] = record
      }
    }
    lateStarts += other.lateStarts
    maxLagMicroseconds = max(maxLagMicroseconds, other.maxLagMicroseconds)
    scheduled += other.scheduled
  }

  /// The same request names in the same order, with nothing recorded: what a loop starts each
  /// report interval with after handing its measurements over (slots stay valid).
  public func emptied() -> LoadStatistics {
    var fresh = LoadStatistics()
    for entry in entries { _ = fresh.slot(method: entry.method, name: entry.name) }
    return fresh
  }

  /// Every entry merged: Locust's "Aggregated" row.
  public var total: RequestStatistics {
    var total = RequestStatistics(method: "", name: "Aggregated")
    for entry in entries { total.merge(entry) }
    return total
  }

  /// Every request failed to connect: the target cannot be reached.
  public var onlyConnectFailures: Bool {
    !failures.isEmpty && total.requests == failures.values.reduce(0) { $0 + $1.occurrences }
      && failures.keys.allSatisfy { $0.error.hasPrefix("connect") }
  }

  /// Entries sorted as Locust sorts them (by name, then method).
  public var sortedEntries: [RequestStatistics] {
    entries.sorted { ($0.name, $0.method) < ($1.name, $1.method) }
  }

  /// The entry for `method name` or `name` alone (all methods merged), for thresholds.
  public func entry(matching label: String) -> RequestStatistics? {
    let exact = entries.filter { "\($0.method) \($0.name)" == label }
    let byName = exact.isEmpty ? entries.filter { $0.name == label } : exact
    guard let first = byName.first else { return nil }
    var merged = first
    for other in byName.dropFirst() { merged.merge(other) }
    return merged
  }
}
