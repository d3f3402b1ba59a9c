import Foundation

/// One inline SVG line chart with round-ticked axes, a legend and units; each point carries a
/// `<title>` so hovering shows its value (no script needed: the report is one file that works
/// offline and in any viewer).
struct SVGChart {
  struct Series {
    var name: String
    var color: String
    /// (x, y) in the chart's units; x in seconds, or percent for a spectrum.
    var points: [(Double, Double)]
  }

  enum XScale {
    /// Seconds since the start.
    case seconds
    /// A percentile spectrum (log scale of 1 / (1 - p)).
    case percentiles
  }

  var title: String
  var yUnit: String
  var xScale: XScale
  var series: [Series]
  var width = 920.0
  var height = 280.0

  private let left = 64.0
  private let right = 40.0
  private let top = 36.0
  private let bottom = 44.0

  /// The chart's SVG, or a short paragraph when there is nothing to draw.
  func render() -> String {
    let all = series.flatMap(\.points)
    guard !all.isEmpty else { return "<p class=\"empty\">\(HTMLReport.escape(title)): no samples.</p>" }
    let yAxis = ChartAxis(maximum: max(all.map(\.1).max() ?? 0, 1e-9))
    let plotWidth = width - left - right
    let plotHeight = height - top - bottom
    let xTicks: [(value: Double, label: String)]
    let xPosition: (Double) -> Double
    switch xScale {
    case .seconds:
      let xAxis = ChartAxis(maximum: max(all.map(\.0).max() ?? 1, 1), count: 10, smallestStep: 1)
      xTicks = xAxis.ticks.map { ($0, xAxis.label($0) + " s") }
      xPosition = { left + plotWidth * xAxis.fraction($0) }
    case .percentiles:
      let highest = all.map(\.0).max() ?? 99
      let nines = max(2, min(6, Int(ceil(PercentileScale.position(highest) - 1e-9))))
      xTicks = PercentileScale.ticks(nines: nines).map { ($0, PercentileScale.label($0)) }
      xPosition = { left + plotWidth * PercentileScale.position($0) / Double(nines) }
    }
    func yPosition(_ value: Double) -> Double { top + plotHeight * (1 - yAxis.fraction(value)) }
    var svg =
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTMLReport.escape(title))\">"
    svg += "<text x=\"\(left)\" y=\"20\" class=\"title\">\(HTMLReport.escape(title))</text>"
    for tick in yAxis.ticks {
      let y = format(yPosition(tick))
      svg += "<line x1=\"\(format(left))\" x2=\"\(format(width - right))\" y1=\"\(y)\" y2=\"\(y)\" class=\"grid\"/>"
      svg += "<text x=\"\(format(left - 6))\" y=\"\(y)\" dy=\"4\" text-anchor=\"end\">\(yAxis.label(tick))</text>"
    }
    svg +=
      "<text transform=\"translate(14 \(format(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTMLReport.escape(yUnit))</text>"
    for tick in xTicks {
      let x = format(xPosition(tick.value))
      svg += "<line x1=\"\(x)\" x2=\"\(x)\" y1=\"\(format(top))\" y2=\"\(format(top + plotHeight))\" class=\"grid\"/>"
      svg +=
        "<text x=\"\(x)\" y=\"\(format(top + plotHeight + 16))\" text-anchor=\"middle\">\(HTMLReport.escape(tick.label))</text>"
    }
    svg +=
      "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotWidth))\" height=\"\(format(plotHeight))\" class=\"frame\"/>"
    var legendX = width - right
    for line in series.reversed() {
      legendX -= 14 + Double(line.name.count) * 7.5
      svg += "<rect x=\"\(format(legendX))\" y=\"11\" width=\"10\" height=\"10\" fill=\"\(line.color)\"/>"
      svg += "<text x=\"\(format(legendX + 13))\" y=\"20\">\(HTMLReport.escape(line.name))</text>"
    }
    for line in series where !line.points.isEmpty {
      let coordinates = line.points.map { "\(format(xPosition($0.0))),\(format(yPosition($0.1)))" }
      svg +=
        "<polyline class=\"series\" data-series=\"\(HTMLReport.escape(line.name))\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>"
      // Hover targets, thinned to at most ~200 per line.
      let stride = max(1, line.points.count / 200)
      for (index, point) in line.points.enumerated() where index % stride == 0 {
        let label =
          xScale == .seconds
          ? "\(line.name) at \(format(point.0)) s: \(value(point.1)) \(yUnit)"
          : "\(line.name): \(value(point.1)) \(yUnit) at \(PercentileScale.label(point.0))"
        svg +=
          "<circle cx=\"\(format(xPosition(point.0)))\" cy=\"\(format(yPosition(point.1)))\" r=\"3\" fill=\"\(line.color)\" fill-opacity=\"0.01\"><title>\(HTMLReport.escape(label))</title></circle>"
      }
    }
    return svg + "</svg>"
  }

  private func format(_ value: Double) -> String { String(format: "%.1f", value) }
  private func value(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.3g", value) }
}
