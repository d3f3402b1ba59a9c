import Foundation

/// `--html FILE`: one self-contained page (inline SVG and CSS; no script, font or network):
/// run parameters, thresholds with their measured values, the generator-lag warning, charts of
/// requests and failures per second, latency per second (p50/p95/p99/max), users, and the
/// percentile spectrum, then Locust's tables and, for distributed runs, one line per worker.
public enum HTMLReport {
  static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]

  public static func render(_ result: LoadResult, thresholds: [ThresholdOutcome]) -> String {
    var html = """
      <!doctype html><html lang="en"><head><meta charset="utf-8">
      <title>loadgen: \(escape(result.scenarioName))</title>
      <style>
      body{font:14px system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:960px;color:#222}
      h1{font-size:22px}h2{font-size:17px;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:4px}
      table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
      th{background:#f3f3f3}td.l,th.l{text-align:left}.pass{color:#080;font-weight:600}.fail{color:#b00;font-weight:600}
      .warning{background:#fff4e5;border:1px solid #f0a040;padding:8px 12px;margin:1em 0}
      svg.chart{background:#fff;border:1px solid #ddd;margin:.4em 0;font-size:11px}
      svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}svg .title{font-size:13px;font-weight:600}
      </style></head><body>
      <h1>loadgen report: \(escape(result.scenarioName))</h1>

      """
    html += parameters(result)
    if !thresholds.isEmpty {
      html += "<h2>Thresholds</h2><table><tr><th class=l>Threshold</th><th>Measured</th><th>Result</th></tr>"
      for outcome in thresholds {
        html += "<tr><td class=l>\(escape(outcome.threshold.text))</td><td>\(escape(measured(outcome)))</td>"
        html += "<td class=\"\(outcome.passed ? "pass" : "fail")\">\(outcome.passed ? "PASS" : "FAIL")</td></tr>"
      }
      html += "</table>"
    }
    if let schedule = ConsoleReport.schedule(result), result.statistics.lateStarts > 0 {
      html += "<div class=\"warning\">\(escape(schedule))</div>"
    }
    if result.incomplete {
      html +=
        "<div class=\"warning\">Incomplete run: a worker was lost (see Workers); its results stop where it did.</div>"
    }
    html += "<h2>Charts</h2>" + charts(result)
    html += tables(result)
    html += workers(result)
    return html + "</body></html>\n"
  }

  /// Start, duration, mode, target and the generator's own setup.
  static func parameters(_ result: LoadResult) -> String {
    let options = result.options
    let started = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: result.started))
    var rows: [(String, String)] = [
      ("Started", started), ("Duration", String(format: "%.1f s", result.duration)),
      ("Target", options.hostHeader.isEmpty ? "?" : "http://\(options.hostHeader)"),
    ]
    if let rate = options.rate {
      rows.append(("Mode", "open loop: \(format(rate)) requests/s over \(result.users) connections"))
    } else {
      rows.append(("Mode", "closed loop: \(result.users) users, started at \(format(options.spawnRate))/s"))
    }
    rows.append(
      ("Protocol", options.http2 ? "HTTP/2 (h2c), \(options.streamsPerConnection) streams per connection" : "HTTP/1.1"))
    rows.append(
      ("Request timeout", "\(format(options.requestTimeout)) s; stop timeout \(format(options.stopTimeout)) s"))
    let generator = result.workers.isEmpty ? "1 process" : "\(result.workers.count) workers"
    rows.append(("Generator", "loadgen \(loadgenVersion), \(generator), \(options.threads) load threads in all"))
    var html = "<table>"
    for (name, value) in rows { html += "<tr><th class=l>\(escape(name))</th><td class=l>\(escape(value))</td></tr>" }
    return html + "</table>"
  }

  static func charts(_ result: LoadResult) -> String {
    let history = result.history
    let seconds = history.indices.map { Double($0 + 1) }
    func series(_ name: String, _ color: Int, _ values: (HistoryPoint) -> Double) -> SVGChart.Series {
      SVGChart.Series(name: name, color: palette[color], points: Array(zip(seconds, history.map(values))))
    }
    var html = SVGChart(
      title: "Requests and failures per second", yUnit: "per second", xScale: .seconds,
      series: [series("requests/s", 0, \.requestsPerSecond), series("failures/s", 3, \.failuresPerSecond)]
    ).render()
    html += SVGChart(
      title: "Response time of each second's requests", yUnit: "ms", xScale: .seconds,
      series: [
        series("p50", 0, \.intervalP50), series("p95", 2, \.intervalP95), series("p99", 1, \.intervalP99),
        series("max", 3, \.intervalMax),
      ]
    ).render()
    html += SVGChart(
      title: result.options.rate == nil ? "Active users" : "Open connections", yUnit: "count", xScale: .seconds,
      series: [series(result.options.rate == nil ? "users" : "connections", 4, { Double($0.users) })]
    ).render()
    var spectrum = [spectrumSeries("all requests", palette[0], result.statistics.total)]
    let named = result.statistics.sortedEntries.filter { $0.requests > 0 }
    if named.count > 1 {
      for (index, entry) in named.prefix(palette.count - 1).enumerated() {
        spectrum.append(spectrumSeries("\(entry.method) \(entry.name)", palette[index + 1], entry))
      }
    }
    html += SVGChart(
      title: "Latency by percentile (whole run)", yUnit: "ms", xScale: .percentiles,
      series: spectrum.filter { !$0.points.isEmpty }
    ).render()
    return html
  }

  /// Latency against percentile, as HdrHistogram's percentile distribution iterates it, up to
  /// the last percentile the sample count can tell apart (at most 99.9999 %).
  static func spectrumSeries(_ name: String, _ color: String, _ entry: RequestStatistics) -> SVGChart.Series {
    guard entry.histogram.totalCount > 0 else { return SVGChart.Series(name: name, color: color, points: []) }
    let nines = max(2, min(6, Int(ceil(log10(Double(entry.histogram.totalCount))))))
    let highest = 100 - 100 / pow(10, Double(nines))
    var points: [(Double, Double)] = []
    for step in entry.histogram.percentiles(ticksPerHalfDistance: 5) {
      let percentile = min(step.percentileLevelIteratedTo, highest)
      points.append((percentile, Double(step.value) / 1000))
      if percentile >= highest { break }
    }
    return SVGChart.Series(name: name, color: color, points: points)
  }

  static func tables(_ result: LoadResult) -> String {
    var html = "<h2>Requests</h2><table><tr><th class=l>Type</th><th class=l>Name</th><th># reqs</th><th># fails</th>"
    html += "<th>Avg ms</th><th>Min ms</th><th>Max ms</th><th>Median ms</th><th>req/s</th><th>failures/s</th></tr>"
    for entry in result.statistics.sortedEntries + [result.statistics.total] {
      html +=
        "<tr><td class=l>\(escape(entry.method))</td><td class=l>\(escape(entry.name))</td><td>\(entry.requests)</td>"
      html += "<td>\(entry.failures)</td><td>\(ms(entry.averageMilliseconds))</td><td>\(ms(entry.minMilliseconds))</td>"
      html += "<td>\(ms(entry.maxMilliseconds))</td><td>\(ms(entry.medianMilliseconds))</td>"
      html += "<td>\(String(format: "%.1f", Double(entry.requests) / max(result.duration, 1e-9)))</td>"
      html += "<td>\(String(format: "%.2f", Double(entry.failures) / max(result.duration, 1e-9)))</td></tr>"
    }
    html += "</table><h2>Response time percentiles (ms)</h2><table><tr><th class=l>Type</th><th class=l>Name</th>"
    html += percentileLabels.map { "<th>\($0)</th>" }.joined() + "</tr>"
    for entry in result.statistics.sortedEntries + [result.statistics.total] where entry.requests > 0 {
      html += "<tr><td class=l>\(escape(entry.method))</td><td class=l>\(escape(entry.name))</td>"
      html += reportedPercentiles.map { "<td>\(ms(entry.milliseconds(atPercentile: $0)))</td>" }.joined() + "</tr>"
    }
    html += "</table>"
    if !result.statistics.failures.isEmpty {
      html += "<h2>Failures</h2><table><tr><th>Occurrences</th><th class=l>Request</th><th class=l>Error</th></tr>"
      for (key, record) in result.statistics.failures.sorted(by: { $0.value.occurrences > $1.value.occurrences }) {
        html += "<tr><td>\(record.occurrences)</td><td class=l>\(escape(key.method + " " + key.name))</td>"
        html += "<td class=l>\(escape(key.error))</td></tr>"
      }
      html += "</table>"
    }
    return html
  }

  static func workers(_ result: LoadResult) -> String {
    guard !result.workers.isEmpty else { return "" }
    var html = "<h2>Workers</h2><table><tr><th class=l>Worker</th><th class=l>Address</th><th>Threads</th>"
    html += "<th>Users</th><th>Rate</th><th># reqs</th><th># fails</th><th class=l>Status</th></tr>"
    for worker in result.workers {
      html += "<tr><td class=l>\(escape(worker.name))</td><td class=l>\(escape(worker.address))</td>"
      html += "<td>\(worker.threads)</td><td>\(worker.users)</td><td>\(worker.rate.map { format($0) } ?? "")</td>"
      html += "<td>\(worker.requests)</td><td>\(worker.failures)</td>"
      html += "<td class=\"l \(worker.lost == nil ? "pass" : "fail")\">\(escape(worker.lost ?? "finished"))</td></tr>"
    }
    return html + "</table>"
  }

  static func measured(_ outcome: ThresholdOutcome) -> String {
    guard let value = outcome.value else { return "no data" }
    switch outcome.threshold.metric {
    case .errorRate: return String(format: "%.3f %%", value * 100)
    case .requestsPerSecond: return String(format: "%.1f req/s", value)
    default: return String(format: "%.3f ms", value)
    }
  }

  static func ms(_ value: Double) -> String { String(format: "%.3f", value) }

  static func format(_ value: Double) -> String { String(format: "%g", value) }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
