import Foundation
import TestSupport
import XCTest

@testable import LoadGen

/// The HTML report of a real run: self-contained, with every chart drawn from data, checked as
/// text and as a real browser renders it.
final class HTMLReportTests: XCTestCase {
  func report() throws -> (html: String, result: LoadResult) {
    let server = try LatencyServer(every: 20, delayMilliseconds: 15)
    defer { server.stop() }
    var options = LoadOptions(address: "127.0.0.1", port: server.port, hostHeader: "127.0.0.1:\(server.port)")
    options.users = 4
    options.spawnRate = 2
    options.runTime = 3.5
    options.threads = 1
    let scenario = try Scenario.parse(
      yaml: "name: report\nrequests:\n  - {path: /sometimes, weight: 3}\n  - {path: /missing, weight: 1}\n")
    let result = try LoadRunner(scenario: scenario, options: options).run()
    let thresholds = try ["p99<1s", "error_rate<1%"].map { try Threshold(parsing: $0).evaluate(result) }
    return (HTMLReport.render(result, thresholds: thresholds), result)
  }

  /// Four charts, each with lines of more than one point; round axis ticks with units; the
  /// thresholds with their measured values; nothing fetched from anywhere.
  func testReportHasEveryChartWithDataAndNoExternalParts() throws {
    let (html, result) = try report()
    XCTAssertEqual(html.components(separatedBy: "<svg class=\"chart\"").count - 1, 4)
    for title in [
      "Requests and failures per second", "Response time of each second", "Active users", "Latency by percentile",
    ] {
      XCTAssertTrue(html.contains(title), title)
    }
    let lines = html.components(separatedBy: "<polyline class=\"series\"").dropFirst()
    XCTAssertGreaterThanOrEqual(lines.count, 8, "requests, failures, p50, p95, p99, max, users, spectrum")
    for line in lines {
      let points = line.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }.split(separator: " ")
      XCTAssertGreaterThanOrEqual(points.count, 2, String(line.prefix(120)))
    }
    XCTAssertTrue(html.contains(">99.9%<"), "the spectrum's axis is labelled in nines")
    XCTAssertTrue(html.contains(">0 s<") && html.contains(">ms<"), "axes carry units")
    XCTAssertTrue(html.contains("<td class=\"pass\">PASS</td>") && html.contains("<td class=\"fail\">FAIL</td>"))
    XCTAssertTrue(html.contains(String(format: "%.3f %%", result.statistics.total.failureRatio * 100)))
    XCTAssertFalse(html.contains("<script") || html.contains("src=") || html.contains("href=\"http"))
    XCTAssertTrue(html.contains("\(result.statistics.total.requests)"))
  }

  /// Headless Chromium (Debian's) loads the page with no errors and draws the charts: the
  /// screenshot holds the series colours as lines, not just as legend swatches.
  func testChromiumRendersTheReportWithItsCharts() throws {
    guard let chromium = which("chromium") ?? which("chromium-browser") else {
      throw XCTSkip("chromium is not installed (scripts/setup.sh installs it)")
    }
    let (html, _) = try report()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let page = directory.appendingPathComponent("report.html")
    let png = directory.appendingPathComponent("report.png")
    try html.write(to: page, atomically: true, encoding: .utf8)
    let common = [
      "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
      "--user-data-dir=\(directory.path)/profile", "--enable-logging=stderr", "--v=0",
    ]
    let shot = try runCommand(
      chromium, common + ["--window-size=1000,2600", "--screenshot=\(png.path)", page.absoluteString], timeout: 90)
    XCTAssertEqual(shot.status, 0, shot.output)
    for problem in ["Uncaught", "SyntaxError", "TypeError", "Failed to load resource"] {
      XCTAssertFalse(shot.output.contains(problem), "the page logged \(problem): \(shot.output)")
    }
    let dom = try runCommand(chromium, common + ["--dump-dom", page.absoluteString], timeout: 90)
    XCTAssertEqual(
      dom.output.components(separatedBy: "<svg class=\"chart\"").count - 1, 4, "the browser parsed 4 charts")
    let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    let counted = try runCommand(
      "/usr/bin/python3",
      [packageRoot.appendingPathComponent("Tests/report/png_series_pixels.py").path, png.path] + colours,
      timeout: 120)
    XCTAssertEqual(counted.status, 0, counted.output)
    let pixels = try JSONSerialization.jsonObject(with: Data(counted.output.utf8)) as? [String: Int] ?? [:]
    for colour in colours {
      // A legend swatch is 100 pixels; a drawn line across a chart is several hundred.
      XCTAssertGreaterThan(pixels[colour] ?? 0, 400, "\(colour) drawn: \(pixels)")
    }
  }
}
