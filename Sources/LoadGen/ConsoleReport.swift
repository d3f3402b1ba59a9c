import Foundation

/// The percentiles Locust reports (its PERCENTILES_TO_REPORT), in percent.
public let reportedPercentiles: [Double] = [50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100]

/// Locust's labels for them: "50%", "99.9%", "100%".
public let percentileLabels: [String] = reportedPercentiles.map { percentile in
  percentile == percentile.rounded() ? "\(Int(percentile))%" : "\(percentile)%"
}

/// Locust's console tables, with milliseconds shown with fractions.
public enum ConsoleReport {
  static let typeWidth = 8
  static let nameWidth = 80

  /// The request statistics table (Locust's `get_stats_summary`, whole-run rates).
  public static func statistics(_ result: LoadResult) -> [String] {
    let nameColumn = nameWidth - typeWidth + 4
    var lines: [String] = []
    lines.append(
      pad("Type", typeWidth) + " " + pad("Name", nameColumn) + " " + left("# reqs", 7) + " " + left("# fails", 12)
        + " |"
        + left("Avg", 7) + " " + left("Min", 7) + " " + left("Max", 7) + left("Med", 7) + " | " + left("req/s", 7) + " "
        + left("failures/s", 11))
    let separator =
      String(repeating: "-", count: typeWidth) + "|" + String(repeating: "-", count: nameColumn) + "|"
      + String(repeating: "-", count: 7) + "|" + String(repeating: "-", count: 13) + "|"
      + [7, 7, 7, 7, 8, 11].map { String(repeating: "-", count: $0) }.joined(separator: "|")
    lines.append(separator)
    func row(_ entry: RequestStatistics) -> String {
      let failures = "\(entry.failures)(\(format(entry.failureRatio * 100, 2))%)"
      return pad(entry.method, typeWidth) + " " + pad(entry.name, nameColumn) + " " + left("\(entry.requests)", 7) + " "
        + left(failures, 12) + " |" + left(format(entry.averageMilliseconds, 2), 7) + " "
        + left(format(entry.minMilliseconds, 2), 7) + " " + left(format(entry.maxMilliseconds, 2), 7)
        + left(format(entry.medianMilliseconds, 2), 7) + " | "
        + left(format(Double(entry.requests) / max(result.duration, 1e-9), 2), 7) + " "
        + left(format(Double(entry.failures) / max(result.duration, 1e-9), 2), 11)
    }
    for entry in result.statistics.sortedEntries where entry.requests > 0 { lines.append(row(entry)) }
    lines.append(separator)
    lines.append(row(result.statistics.total))
    return lines
  }

  /// The percentile table (Locust's `get_percentile_stats_summary`), in milliseconds.
  public static func percentiles(_ result: LoadResult) -> [String] {
    var lines = ["Response time percentiles (HdrHistogram, milliseconds)"]
    lines.append(
      pad("Type", typeWidth) + " " + pad("Name", nameWidth) + " " + left("", 8) + " "
        + percentileLabels.map { left($0, 7) }.joined(separator: " ") + " " + left("# reqs", 7))
    let separator =
      String(repeating: "-", count: typeWidth) + "|" + String(repeating: "-", count: nameWidth) + "|"
      + String(repeating: "-", count: 8) + "|"
      + Array(repeating: String(repeating: "-", count: 7), count: reportedPercentiles.count + 1).joined(separator: "|")
    lines.append(separator)
    func row(_ entry: RequestStatistics) -> String {
      pad(entry.method, typeWidth) + " " + pad(entry.name, nameWidth) + " " + left("", 8) + " "
        + reportedPercentiles.map { left(format(entry.milliseconds(atPercentile: $0), 3), 7) }.joined(separator: " ")
        + " " + left("\(entry.requests)", 7)
    }
    for entry in result.statistics.sortedEntries where entry.requests > 0 { lines.append(row(entry)) }
    lines.append(separator)
    if result.statistics.total.requests > 0 { lines.append(row(result.statistics.total)) }
    return lines
  }

  /// The error report, when there were failures.
  public static func failures(_ result: LoadResult) -> [String] {
    guard !result.statistics.failures.isEmpty else { return [] }
    var lines = ["Error report", pad("# occurrences", 18) + " " + "Error"]
    lines.append(String(repeating: "-", count: 18) + "|" + String(repeating: "-", count: 80 + nameWidth - 19))
    for (key, record) in result.statistics.failures.sorted(by: { $0.value.occurrences > $1.value.occurrences }) {
      lines.append(pad("\(record.occurrences)", 18) + " " + "\(key.method) \(key.name): \(key.error)")
    }
    lines.append(String(repeating: "-", count: 18) + "|" + String(repeating: "-", count: 80 + nameWidth - 19))
    return lines
  }

  /// Distributed runs: one line per worker, lost ones with why and when.
  public static func workers(_ result: LoadResult) -> [String] {
    guard !result.workers.isEmpty else { return [] }
    var lines = ["", "Workers (\(result.workers.count))"]
    for worker in result.workers {
      let share =
        worker.rate.map { "\(worker.users) connections, \(format($0, 1)) req/s" } ?? "\(worker.users) users"
      lines.append(
        "  \(worker.name) at \(worker.address), \(worker.threads) threads, \(share): \(worker.requests) requests, "
          + "\(worker.failures) failures, " + (worker.lost ?? "finished"))
    }
    return lines
  }

  /// Open loop: whether the generator kept its schedule (nil in closed loop).
  public static func schedule(_ result: LoadResult) -> String? {
    guard result.options.rate != nil else { return nil }
    let statistics = result.statistics
    if statistics.lateStarts > 0 {
      return
        "WARNING: the generator fell behind schedule: \(statistics.lateStarts) of \(statistics.scheduled) requests started more than \(format(result.options.lateThreshold * 1000, 0)) ms late (max lag \(format(Double(statistics.maxLagMicroseconds) / 1000, 3)) ms); the rate is more than this machine can drive"
    }
    return
      "Schedule kept: \(statistics.scheduled) requests, none started more than \(format(result.options.lateThreshold * 1000, 0)) ms late."
  }

  /// The one-line progress report printed every second on a terminal.
  public static func liveLine(_ point: HistoryPoint) -> String {
    let failureRatio = point.cumulative.requests == 0 ? 0 : point.cumulative.failureRatio * 100
    return "users=\(point.users) req/s=\(format(point.requestsPerSecond, 0)) failures=\(point.cumulative.failures) ("
      + format(failureRatio, 2) + "%) p50=" + format(point.cumulative.medianMilliseconds, 3) + "ms p99="
      + format(point.cumulative.milliseconds(atPercentile: 99), 3) + "ms"
  }

  static func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
  }

  static func left(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
  }

  static func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
  }
}
