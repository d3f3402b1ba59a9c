import Foundation
import TestSupport
import XCTest

@testable import FeatureServer

/// Every route answers the same over HTTP/2 (prior knowledge and Upgrade) as over HTTP/1.1:
/// status, content type, X-Cache and body (for /predict, the body but its timings).
final class HTTP2RoutesTests: XCTestCase {
  struct Answer: Equatable {
    var status: String
    var contentType: String
    var cache: String
    var body: String
  }

  func answer(_ curl: String, _ arguments: [String]) throws -> Answer {
    let (code, output) = try runCommand(curl, ["-s", "-i"] + arguments, timeout: 20)
    XCTAssertEqual(code, 0, output)
    var text = output
    if text.hasPrefix("HTTP/1.1 101"), let end = text.range(of: "\r\n\r\n") { text = String(text[end.upperBound...]) }
    guard let end = text.range(of: "\r\n\r\n") else { return Answer(status: "", contentType: "", cache: "", body: "") }
    let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
    func header(_ name: String) -> String {
      lines.first { $0.lowercased().hasPrefix(name + ":") }.map {
        String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
      } ?? ""
    }
    var body = String(text[end.upperBound...])
    // /predict reports how long it took: the one part of an answer that differs by nature.
    if let range = body.range(of: #""latency_ms":\{[^}]*\}"#, options: .regularExpression) {
      body.replaceSubrange(range, with: #""latency_ms":{}"#)
    }
    return Answer(
      status: lines[0].split(separator: " ").dropFirst().first.map(String.init) ?? "",
      contentType: header("content-type"), cache: header("x-cache"), body: body)
  }

  func testEveryRouteAnswersTheSameOverHTTP2() throws {
    guard let curl = which("curl") else { throw XCTSkip("curl not installed") }
    let harness = try FeatureServerHarness(threads: 1, modelPath: LoadedModel.bundledPath) {
      $0.adminToken = "0123456789abcdef-admin"
    }
    defer { harness.stop() }
    try harness.loadBundledData()
    let base = "http://127.0.0.1:\(harness.port)"
    let items = (1...100).map { #"{"entity":"customer","id":\#($0)}"# }.joined(separator: ",")
    let predict =
      #"{"transaction_id":"t-1","customer_id":42,"account_id":7,"merchant_id":3,"amount":912.5,"timestamp":1795000000,"device_known":false}"#
    let cases: [[String]] = [
      ["\(base)/features/customer/42"], ["\(base)/features/merchant/7?features=merchant_category,is_online"],
      ["\(base)/features/customer/999999"], ["\(base)/features/customer/abc"], ["\(base)/features/nope/1"],
      ["--data-binary", #"{"items":[\#(items)]}"#, "\(base)/features"],
      ["--data-binary", #"{"items":[{"entity":"customer"}]}"#, "\(base)/features"],
      ["--data-binary", predict, "\(base)/predict?explain=true"], ["--data-binary", "{", "\(base)/predict"],
      ["\(base)/health"], ["\(base)/ready"], ["-X", "DELETE", "\(base)/health"],
      ["-X", "POST", "-H", "Authorization: Bearer wrong", "\(base)/admin/reload-model"],
    ]
    for arguments in cases {
      _ = try answer(curl, ["--http1.1"] + arguments)  // fills the cache: the answers below are hits
      let http1 = try answer(curl, ["--http1.1"] + arguments)
      let prior = try answer(curl, ["--http2-prior-knowledge"] + arguments)
      let upgraded = try answer(curl, ["--http2"] + arguments)
      XCTAssertFalse(http1.status.isEmpty, "\(arguments)")
      XCTAssertEqual(prior, http1, "prior knowledge: \(arguments)")
      XCTAssertEqual(upgraded, http1, "upgrade: \(arguments)")
    }
    let metrics = try harness.get("/metrics").body
    XCTAssertTrue(metrics.contains(#"featureserver_http_requests_by_protocol_total{protocol="h2"}"#), metrics)
    XCTAssertTrue(metrics.contains("featureserver_http2_streams_open 0"), "every stream closed")
  }
}

/// HTTP/2 is on by default and turned off by a flag or its environment variable.
final class HTTP2SwitchTests: XCTestCase {
  func testHTTP2CanBeTurnedOffByTheEnvironment() throws {
    guard let curl = which("curl") else { throw XCTSkip("curl not installed") }
    let redis = try RedisServerProcess()
    let server = try ServerProcess(
      arguments: ["--threads", "1", "--model", "none", "--redis-url", "redis://127.0.0.1:\(redis.port)"],
      environment: ["FEATURESERVER_HTTP2": "false"])
    defer { server.stop() }
    let (code, _) = try runCommand(
      curl, ["-s", "-o", "/dev/null", "--http2-prior-knowledge", "http://127.0.0.1:\(server.port)/health"],
      timeout: 10)
    XCTAssertNotEqual(code, 0, "prior-knowledge HTTP/2 must be refused when turned off")
    let (_, upgraded) = try runCommand(
      curl, ["-s", "-i", "--http2", "http://127.0.0.1:\(server.port)/health"], timeout: 10)
    XCTAssertTrue(upgraded.hasPrefix("HTTP/1.1 200"), "an Upgrade is ignored, HTTP/1.1 answers: \(upgraded)")
  }
}
