import Foundation

/// `--html FILE`: one self-contained page (inline SVG and CSS, no scripts or CDN): latency over
/// time (p50 and p99 of each second), the percentile distribution, and the tables.
public enum HTMLReport {
  public static func render(_ result: LoadResult, thresholds: [ThresholdOutcome]) -> String {
    var html = """
      <!doctype html><html><head><meta charset="utf-8"><title>loadgen: \(escape(result.scenarioName))</title>
      <style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
      td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
      .pass{color:#080}.fail{color:#b00}svg{background:#fafafa;border:1px solid #ddd}</style></head><body>
      <h1>loadgen report: \(escape(result.scenarioName))</h1>
      """
    let started = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: result.started))
    let mode =
      result.options.rate.map { "open loop, \(Int($0)) requests/s over \(result.users) connections" }
      ?? "closed loop, \(result.users) users"
    html +=
      "<p>Started \(started), \(String(format: "%.1f", result.duration)) s, \(escape(mode)), target \(escape(result.options.hostHeader)).</p>"
    if !thresholds.isEmpty {
      html += "<h2>Thresholds</h2><ul>"
      for outcome in thresholds {
        html += "<li class=\"\(outcome.passed ? "pass" : "fail")\">\(escape(outcome.verdict))</li>"
      }
      html += "</ul>"
    }
    html += "<h2>Latency over time (ms, each second's responses)</h2>" + chart(result.history)
    html += "<h2>Requests</h2><table><tr><th class=l>Type</th><th class=l>Name</th><th># reqs</th><th># fails</th>"
    html += "<th>Avg</th><th>Min</th><th>Max</th><th>Median</th><th>req/s</th><th>failures/s</th></tr>"
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
    return html + "</body></html>\n"
  }

  /// p50 and p99 per second as two SVG polylines on a shared axis.
  static func chart(_ history: [HistoryPoint]) -> String {
    let width = 900.0
    let height = 300.0
    let margin = 50.0
    guard history.count >= 1 else { return "<p>No samples.</p>" }
    let top = max(history.map(\.intervalP99).max() ?? 1, 0.001) * 1.1
    func x(_ index: Int) -> Double {
      margin + (width - 2 * margin) * Double(index) / Double(max(1, history.count - 1))
    }
    func y(_ value: Double) -> Double { height - margin + 10 - (height - 2 * margin) * value / top }
    func line(_ values: [Double], _ color: String) -> String {
      let points = values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }
      return
        "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>"
    }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\">"
    for step in 0...4 {
      let value = top * Double(step) / 4
      svg +=
        "<line x1=\"\(margin)\" x2=\"\(width - margin)\" y1=\"\(y(value))\" y2=\"\(y(value))\" stroke=\"#e5e5e5\"/>"
      svg += "<text x=\"5\" y=\"\(y(value) + 4)\" font-size=\"11\">\(ms(value))</text>"
    }
    svg += line(history.map(\.intervalP50), "#1f77b4") + line(history.map(\.intervalP99), "#d62728")
    svg += "<text x=\"\(width - margin - 90)\" y=\"20\" fill=\"#1f77b4\">p50</text>"
    svg += "<text x=\"\(width - margin - 50)\" y=\"20\" fill=\"#d62728\">p99</text>"
    svg += "<text x=\"\(margin)\" y=\"\(height - 8)\" font-size=\"11\">0 s</text>"
    svg += "<text x=\"\(width - margin - 20)\" y=\"\(height - 8)\" font-size=\"11\">\(history.count) s</text>"
    return svg + "</svg>"
  }

  static func ms(_ value: Double) -> String { String(format: "%.3f", value) }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
