import Foundation

/// `--csv PREFIX`: `PREFIX_stats.csv`, `PREFIX_stats_history.csv`, `PREFIX_failures.csv` and
/// `PREFIX_exceptions.csv` with exactly the column headers of Locust 2.x (and its CRLF line
/// ends), so Locust tooling reads them; times are milliseconds with fractions.
public enum CSVReport {
  public static let statsHeader =
    [
      "Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
      "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
    ] + percentileLabels
  public static let historyHeader =
    ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"] + percentileLabels + [
      "Total Request Count", "Total Failure Count", "Total Median Response Time", "Total Average Response Time",
      "Total Min Response Time", "Total Max Response Time", "Total Average Content Size",
    ]
  public static let failuresHeader = ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]
  public static let exceptionsHeader = ["Count", "Message", "Traceback", "Nodes"]

  /// Writes the four files; throws naming the file it could not write.
  public static func write(_ result: LoadResult, prefix: String) throws {
    var stats = [statsHeader]
    for entry in result.statistics.sortedEntries + [result.statistics.total] {
      stats.append(
        [
          entry.method, entry.name, "\(entry.requests)", "\(entry.failures)", ms(entry.medianMilliseconds),
          ms(entry.averageMilliseconds), ms(entry.minMilliseconds), ms(entry.maxMilliseconds),
          "\(entry.averageContentSize)", "\(Double(entry.requests) / max(result.duration, 1e-9))",
          "\(Double(entry.failures) / max(result.duration, 1e-9))",
        ] + percentiles(entry))
    }
    var history = [historyHeader]
    for point in result.history {
      let total = point.cumulative
      history.append(
        [
          "\(Int(point.timestamp))", "\(point.users)", "", "Aggregated", String(format: "%f", point.requestsPerSecond),
          String(format: "%f", point.failuresPerSecond),
        ] + (total.requests == 0 ? reportedPercentiles.map { _ in "N/A" } : total.percentileMilliseconds.map(ms)) + [
          "\(total.requests)", "\(total.failures)", ms(total.medianMilliseconds), ms(total.averageMilliseconds),
          ms(total.minMilliseconds), ms(total.maxMilliseconds), "\(total.averageContentSize)",
        ])
    }
    var failures = [failuresHeader]
    for (key, record) in result.statistics.failures.sorted(by: { $0.value.occurrences > $1.value.occurrences }) {
      failures.append(
        [key.method, key.name, key.error, "\(record.occurrences)", utc(record.firstSeen), utc(record.lastSeen)])
    }
    for (suffix, rows) in [
      ("_stats.csv", stats), ("_stats_history.csv", history), ("_failures.csv", failures),
      ("_exceptions.csv", [exceptionsHeader]),
    ] {
      let path = prefix + suffix
      let text = rows.map { $0.map(quote).joined(separator: ",") + "\r\n" }.joined()
      do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
      } catch {
        throw ScenarioError("cannot write \(path): \(error.localizedDescription)")
      }
    }
  }

  static func percentiles(_ entry: RequestStatistics) -> [String] {
    entry.requests == 0
      ? reportedPercentiles.map { _ in "N/A" } : reportedPercentiles.map { ms(entry.milliseconds(atPercentile: $0)) }
  }

  static func ms(_ value: Double) -> String { String(format: "%.3f", value) }

  static func utc(_ epoch: Double) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: Date(timeIntervalSince1970: epoch))
  }

  /// RFC 4180 quoting where needed, as Python's csv module does.
  static func quote(_ field: String) -> String {
    guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}

/// `--json`: the run's summary for machines.
public enum JSONReport {
  public static func render(_ result: LoadResult, thresholds: [ThresholdOutcome]) -> String {
    func entry(_ entry: RequestStatistics) -> [String: Any] {
      var percentiles: [String: Double] = [:]
      for (label, percentile) in zip(percentileLabels, reportedPercentiles) {
        percentiles[String(label.dropLast())] = entry.milliseconds(atPercentile: percentile)
      }
      return [
        "method": entry.method, "name": entry.name, "requests": entry.requests, "failures": entry.failures,
        "avg_ms": entry.averageMilliseconds, "min_ms": entry.minMilliseconds, "max_ms": entry.maxMilliseconds,
        "median_ms": entry.medianMilliseconds, "rps": Double(entry.requests) / max(result.duration, 1e-9),
        "error_rate": entry.failureRatio, "percentiles_ms": percentiles,
      ]
    }
    var object: [String: Any] = [
      "scenario": result.scenarioName, "started": result.started, "duration_s": result.duration,
      "users": result.users, "mode": result.options.rate == nil ? "closed" : "open",
      "requests": result.statistics.sortedEntries.map(entry), "total": entry(result.statistics.total),
      "failures": result.statistics.failures.map { key, record in
        ["method": key.method, "name": key.name, "error": key.error, "occurrences": record.occurrences]
      },
      // Each second on its own (not cumulative): what a soak or a fault-injection run is judged on.
      "history": result.history.map {
        [
          "timestamp": $0.timestamp, "users": $0.users, "rps": $0.requestsPerSecond,
          "failures_per_s": $0.failuresPerSecond, "p50_ms": $0.intervalP50, "p95_ms": $0.intervalP95,
          "p99_ms": $0.intervalP99, "max_ms": $0.intervalMax,
        ] as [String: Any]
      },
      "thresholds": thresholds.map {
        ["threshold": $0.threshold.text, "value": $0.value ?? NSNull(), "passed": $0.passed] as [String: Any]
      },
    ]
    if !result.workers.isEmpty {
      object["incomplete"] = result.incomplete
      object["workers"] = result.workers.map {
        [
          "name": $0.name, "address": $0.address, "threads": $0.threads, "users": $0.users,
          "rate": $0.rate ?? NSNull(), "requests": $0.requests, "failures": $0.failures, "lost": $0.lost ?? NSNull(),
        ] as [String: Any]
      }
    }
    if let rate = result.options.rate {
      object["rate"] = rate
      object["schedule"] = [
        "scheduled": result.statistics.scheduled, "late_starts": result.statistics.lateStarts,
        "max_lag_ms": Double(result.statistics.maxLagMicroseconds) / 1000,
      ]
    }
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }
}
