import Foundation
import TestSupport
import XCTest

/// The dashboard and the alert rules against a real Prometheus scraping the real server: every
/// expression must evaluate, and every metric it names must exist as a series. A typo in a
/// metric name fails here.
final class OperationsTests: XCTestCase {
  static let dashboard = packageRoot.appendingPathComponent("dashboards/grafana/featureserver.json")
  static let alerts = packageRoot.appendingPathComponent("dashboards/prometheus/alerts.yml")
  static let scrapeConfig = packageRoot.appendingPathComponent("dashboards/prometheus/prometheus.yml")

  func testPromtoolAcceptsTheRulesAndTheConfig() throws {
    guard let promtool = which("promtool") else { throw XCTSkip("promtool not installed (scripts/setup.sh)") }
    let rules = try runCommand(promtool, ["check", "rules", Self.alerts.path])
    XCTAssertEqual(rules.status, 0, rules.output)
    XCTAssertTrue(rules.output.contains("SUCCESS: 10 rules found"), rules.output)
    let config = try runCommand(promtool, ["check", "config", Self.scrapeConfig.path])
    XCTAssertEqual(config.status, 0, config.output)
  }

  /// Grafana's import needs these: a datasource variable and no hard-coded datasource uid.
  func testDashboardIsImportable() throws {
    let json = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: Self.dashboard)) as? [String: Any])
    XCTAssertGreaterThanOrEqual(json["schemaVersion"] as? Int ?? 0, 39)
    let variables = (json["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
    XCTAssertTrue(
      variables.contains { $0["type"] as? String == "datasource" && $0["query"] as? String == "prometheus" })
    let panels = json["panels"] as? [[String: Any]] ?? []
    let rows = panels.filter { $0["type"] as? String == "row" }.compactMap { $0["title"] as? String }
    XCTAssertEqual(
      rows,
      [
        "Traffic", "Latency", "Errors", "Cache", "Redis pool", "Redis Cluster (empty for a single Redis)",
        "Streaming windows (empty without --stream)", "Predictions", "Feature freshness",
        "Feast API and stored data", "Drift",
      ])
    for panel in panels where panel["type"] as? String != "row" {
      let uid = (panel["datasource"] as? [String: Any])?["uid"] as? String
      XCTAssertEqual(uid, "${datasource}", "panel \(panel["title"] ?? "") must use the datasource variable")
    }
  }

  func testEveryDashboardAndRuleExpressionEvaluatesAgainstARealPrometheus() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    guard which("redis-server") != nil, let prometheus = which("prometheus") else {
      throw XCTSkip("redis-server or prometheus not installed (scripts/setup.sh)")
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("operations-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    // The server, with its own redis-server and the bundled data and model.
    let port = try freeTCPPort()
    let server = Process()
    server.executableURL = URL(fileURLWithPath: binary)
    // --stream: the streaming row and alert have series too.
    server.arguments = ["serve", "--threads", "2", "--bind", "127.0.0.1", "--port", "\(port)", "--stream", "fs:events"]
    server.standardError = FileHandle.nullDevice
    server.standardOutput = FileHandle.nullDevice
    try server.run()
    defer { if server.isRunning { server.terminate() } }
    XCTAssertNotNil(
      waitUntil(timeout: 20) { self.request(port, "GET /ready HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200") })

    // Prometheus, scraping it every second with the shipped rules.
    let prometheusPort = try freeTCPPort()
    try FileManager.default.copyItem(at: Self.alerts, to: directory.appendingPathComponent("alerts.yml"))
    let config = try String(contentsOf: Self.scrapeConfig, encoding: .utf8)
      .replacingOccurrences(of: "scrape_interval: 15s", with: "scrape_interval: 1s")
      .replacingOccurrences(of: "evaluation_interval: 15s", with: "evaluation_interval: 1s")
      .replacingOccurrences(of: "localhost:8080", with: "127.0.0.1:\(port)")
    try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
    let scraper = Process()
    scraper.executableURL = URL(fileURLWithPath: prometheus)
    scraper.arguments = [
      "--config.file=\(directory.appendingPathComponent("prometheus.yml").path)",
      "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
      "--web.listen-address=127.0.0.1:\(prometheusPort)", "--log.level=warn",
    ]
    scraper.standardError = FileHandle.nullDevice
    scraper.standardOutput = FileHandle.nullDevice
    try scraper.run()
    defer { if scraper.isRunning { scraper.terminate(); scraper.waitUntilExit() } }

    // Traffic on every route family, over several scrapes (rate() needs two samples).
    let deadline = Date().addingTimeInterval(6)
    var sent = 0
    while Date() < deadline {
      let id = sent % 5000 + 1
      _ = request(port, "GET /features/customer/\(id) HTTP/1.1\r\nHost: t\r\n\r\n")
      _ = request(port, "GET /features/customer/999999 HTTP/1.1\r\nHost: t\r\n\r\n")
      let body =
        #"{"transaction_id":"o\#(sent)","customer_id":\#(id),"account_id":\#(id),"merchant_id":\#(id % 800 + 1),"amount":\#(20 + sent % 300)}"#
      _ = request(port, "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
      sent += 1
      usleep(5_000)
    }
    XCTAssertNotNil(
      waitUntil(timeout: 20) {
        let result = (try? self.query(prometheusPort, "count_over_time(up{job=\"featureserver\"}[1m])")) ?? []
        return (result.first?["value"] as? [Any])?.last.flatMap { Double("\($0)") } ?? 0 >= 4
      }, "Prometheus never scraped the server 4 times")

    var expressions: [(source: String, expr: String, mustReturnSeries: Bool)] = []
    let dashboard = try XCTUnwrap(
      JSONSerialization.jsonObject(with: Data(contentsOf: Self.dashboard)) as? [String: Any])
    for panel in dashboard["panels"] as? [[String: Any]] ?? [] {
      for target in panel["targets"] as? [[String: Any]] ?? [] {
        guard let expr = target["expr"] as? String else { continue }
        let concrete = expr.replacingOccurrences(of: "$__rate_interval", with: "1m")
        // Error panels are empty while nothing fails, the cluster row on a single Redis
        // (ClusterServingTests checks its metrics on a cluster); every other panel shows data.
        let mayBeEmpty = expr.contains(#"status=~"5.."#) || expr.contains(Self.clusterMetricPrefix)
        expressions.append(("dashboard panel '\(panel["title"] ?? "")'", concrete, !mayBeEmpty))
      }
    }
    // The rules as Prometheus loaded them (so the file it reads is the one tested).
    let rules = try rulesFromPrometheus(prometheusPort)
    XCTAssertEqual(rules.count, 10)
    for rule in rules {
      XCTAssertEqual(rule.health, "ok", "rule \(rule.name): \(rule.lastError)")
      // An alert fires only past its threshold: the expression itself may be empty.
      expressions.append(("alert \(rule.name)", rule.query, false))
    }
    XCTAssertGreaterThan(expressions.count, 30)

    var checkedMetrics = Set<String>()
    for (source, expr, mustReturnSeries) in expressions {
      let result: [[String: Any]]
      do {
        result = try query(prometheusPort, expr)
      } catch {
        XCTFail("\(source): \(expr) is invalid: \(error)")
        continue
      }
      if mustReturnSeries { XCTAssertFalse(result.isEmpty, "\(source): \(expr) returned no series") }
      for name in metricNames(in: expr)
      where !checkedMetrics.contains(name) && !name.hasPrefix(Self.clusterMetricPrefix) {
        checkedMetrics.insert(name)
        let series = try query(prometheusPort, "count({__name__=\"\(name)\"})")
        XCTAssertFalse(series.isEmpty, "\(source) names \(name), which the server does not export")
      }
    }
    XCTAssertTrue(checkedMetrics.contains("featureserver_feature_drift_psi"))
    XCTAssertTrue(checkedMetrics.contains("featureserver_predictions_total"))
    // And the check can fail: a misspelt metric has no series.
    XCTAssertTrue(try query(prometheusPort, "count({__name__=\"featureserver_cache_request_total\"})").isEmpty)
  }

  /// Metrics only a cluster server exports.
  static let clusterMetricPrefix = "featureserver_redis_cluster_"

  // MARK: Helpers

  private func request(_ port: Int, _ text: String) -> String {
    guard let connection = try? RawConnection(port: port) else { return "" }
    connection.send(text)
    return connection.readResponses(1).first ?? ""
  }

  /// Metric names in a PromQL expression (identifiers that are ours or process metrics).
  private func metricNames(in expr: String) -> Set<String> {
    let pattern = try! NSRegularExpression(pattern: "\\b(featureserver_[a-z0-9_]+|process_[a-z0-9_]+)\\b")
    let range = NSRange(expr.startIndex..., in: expr)
    return Set(
      pattern.matches(in: expr, range: range).compactMap { Range($0.range, in: expr).map { String(expr[$0]) } })
  }

  private struct QueryError: Error, CustomStringConvertible {
    let description: String
  }

  private func get(_ port: Int, _ pathAndQuery: String) throws -> [String: Any] {
    let connection = try RawConnection(port: port)
    // HTTP/1.0: the body comes whole (no chunked encoding) and ends at close.
    connection.send("GET \(pathAndQuery) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    let response = connection.readUntilClose().text
    guard let split = response.range(of: "\r\n\r\n") else { throw QueryError(description: "no HTTP response") }
    let body = String(response[split.upperBound...])
    guard let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
      throw QueryError(description: "not JSON: \(body.prefix(200))")
    }
    return json
  }

  /// An instant query's result vector; throws with Prometheus's error for an invalid one.
  private func query(_ port: Int, _ expr: String) throws -> [[String: Any]] {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let encoded = expr.addingPercentEncoding(withAllowedCharacters: allowed) ?? expr
    let json = try get(port, "/api/v1/query?query=\(encoded)")
    guard json["status"] as? String == "success" else {
      throw QueryError(description: "\(json["errorType"] ?? ""): \(json["error"] ?? "")")
    }
    return ((json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
  }

  private func rulesFromPrometheus(_ port: Int) throws -> [(
    name: String, query: String, health: String, lastError: String
  )] {
    var rules: [(String, String, String, String)] = []
    _ = waitUntil(timeout: 10) {
      guard let json = try? self.get(port, "/api/v1/rules"),
        let groups = (json["data"] as? [String: Any])?["groups"] as? [[String: Any]]
      else { return false }
      rules = groups.flatMap { $0["rules"] as? [[String: Any]] ?? [] }.map {
        (
          $0["name"] as? String ?? "", $0["query"] as? String ?? "", $0["health"] as? String ?? "",
          $0["lastError"] as? String ?? ""
        )
      }
      return !rules.isEmpty && rules.allSatisfy { $0.2 != "unknown" }
    }
    return rules.map { (name: $0.0, query: $0.1, health: $0.2, lastError: $0.3) }
  }
}
