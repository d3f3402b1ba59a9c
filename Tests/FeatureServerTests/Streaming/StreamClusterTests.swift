import Foundation
import TestSupport
import XCTest

/// Streaming ingest on a real 3-primary Redis Cluster: the stream, the consumer group, the
/// events hashes (one hash tag per customer) and the watermark live on different nodes, and
/// the window features read the same as on one Redis.
final class StreamClusterTests: XCTestCase {
  func testEventsIngestedOnAClusterAreServedAsWindowFeatures() throws {
    let cluster = try RedisClusterProcess()
    let load = try runCommand(
      productsDirectory.appendingPathComponent("featureserver").path,
      [
        "load", "--redis-url", cluster.url, "--entity", "customer",
        packageRoot.appendingPathComponent("data/customers.csv").path,
      ], timeout: 60)
    XCTAssertEqual(load.status, 0, load.output)
    let server = try ServerProcess(arguments: [
      "--redis-url", cluster.url, "--stream", "fs:events", "--threads", "2", "--window-cache-ttl", "0",
    ])
    defer { server.stop() }
    let now = Date().timeIntervalSince1970
    var expected: [Int: [Double]] = [:]
    var lines: [String] = []
    for index in 0..<600 {
      let customer = 1 + index % 30
      let amount = Double(index % 97) + 0.25
      expected[customer, default: []].append(amount)
      lines.append(
        #"{"transaction_id":"k\#(index)","customer_id":\#(customer),"amount":\#(amount),"event_timestamp":\#(now - 40 + Double(index) / 20)}"#
      )
    }
    let body = lines.joined(separator: "\n")
    let posted = server.request(
      "POST /events HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    XCTAssertTrue(posted.hasPrefix("HTTP/1.1 202"), posted)
    XCTAssertNotNil(waitUntil(timeout: 30) { streamCount(server, "featureserver_stream_events_total") == 600 })
    for customer in 1...30 {
      let response = server.request("GET /features/customer/\(customer) HTTP/1.1\r\nHost: t\r\n\r\n")
      let body = try XCTUnwrap(response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) })
      let features = try XCTUnwrap(
        (JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["features"] as? [String: Any])
      let amounts = expected[customer]!
      // Every event is within the last 60 s: in the served 1 h window and the trailing minute.
      XCTAssertEqual(features["txn_count_1h"] as? Int, amounts.count, body)
      XCTAssertEqual(features["amount_sum_1h"] as? Double ?? 0, amounts.reduce(0, +), accuracy: 1e-9)
      XCTAssertEqual(
        features["amount_mean_60s"] as? Double ?? 0, amounts.reduce(0, +) / Double(amounts.count), accuracy: 1e-9)
    }
  }
}
