import Foundation
import TestSupport
import XCTest

#if canImport(Glibc)
  import Glibc
#endif

/// The live path end to end on a real redis-server: events appended with POST /events and with
/// XADD are consumed by the server's consumer group, and GET /features serves, for 100
/// customers, exactly what the replay tool's open windows hold at the same moment.
final class StreamServingTests: XCTestCase {
  private static let sizes = ["1m", "5m", "1h"]

  func testServedWindowFeaturesEqualTheReplayToolsOpenWindowsAtTheSameMoment() throws {
    let redis = try RedisServerProcess()
    try load(redis)
    // Default settings: window events cached, the consumer's writes put into the cache.
    let server = try ServerProcess(arguments: [
      "--redis-url", "redis://127.0.0.1:\(redis.port)", "--stream", "fs:events", "--threads", "2",
    ])
    defer { server.stop() }
    let lines = Self.events(count: 3000, customers: 100, now: Date().timeIntervalSince1970)
    let half = lines.count / 2
    // The first half through POST /events (JSON lines), the rest with XADD as a producer would.
    for chunk in stride(from: 0, to: half, by: 500) {
      let body = lines[chunk..<min(half, chunk + 500)].joined(separator: "\n")
      let response = server.request(
        "POST /events HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
      )
      XCTAssertTrue(response.hasPrefix("HTTP/1.1 202"), response)
    }
    // Every customer read (and its events cached) before the rest arrive: those the consumer
    // puts into the cache itself (write-through), and they must still equal the replay's.
    XCTAssertNotNil(waitUntil(timeout: 60) { streamCount(server, "featureserver_stream_events_total") == half })
    for customer in 1...100 {
      XCTAssertTrue(
        server.request("GET /features/customer/\(customer) HTTP/1.1\r\nHost: t\r\n\r\n").hasPrefix("HTTP/1.1 200"))
    }
    let producer = try RawConnection(port: redis.port)
    var resp = ""
    for line in lines[half...] {
      let event = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      var arguments = ["XADD", "fs:events", "*"]
      for name in ["transaction_id", "customer_id", "amount", "event_timestamp"] {
        arguments += [name, "\(event[name]!)"]
      }
      resp += "*\(arguments.count)\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
    }
    producer.send(resp)
    XCTAssertNotNil(
      waitUntil(timeout: 60) { streamCount(server, "featureserver_stream_events_total") == lines.count },
      server.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"))

    XCTAssertGreaterThan(
      streamCount(server, #"featureserver_window_cache_own_writes_total{outcome="applied"}"#), 0,
      "the consumer's writes went into the cache")
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("stream-serving-\(getpid()).jsonl")
    defer { try? FileManager.default.removeItem(at: file) }
    try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    var replayed: [String: [String: [String: Any]]] = [:]  // size → "customer end" → window
    var droppedPairs = 0
    for size in Self.sizes {
      let result = try runCommand(
        productsDirectory.appendingPathComponent("featureserver").path,
        [
          "windows", "--events", file.path, "--window", size, "--slide", "15s", "--watermark", "2m",
        ], timeout: 60)
      XCTAssertEqual(result.status, 0, result.output)
      for line in result.output.split(separator: "\n") where line.hasPrefix("{\"events\"") {
        let summary = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        droppedPairs += summary?["dropped_pairs"] as? Int ?? 0
      }
      for line in result.output.split(separator: "\n") where line.hasPrefix("{\"key\"") {
        let window = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        guard window["open"] as? Bool == true else { continue }
        replayed[size, default: [:]]["\(window["key"]!) \(window["window_end"]!)"] = window
      }
    }

    var compared = 0
    for customer in 1...100 {
      for _ in 0..<5 {  // again when the request straddled a slide boundary
        let before = Int64(Date().timeIntervalSince1970) / 15
        let response = server.request("GET /features/customer/\(customer) HTTP/1.1\r\nHost: t\r\n\r\n")
        guard Int64(Date().timeIntervalSince1970) / 15 == before else { continue }
        let body = try XCTUnwrap(response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) })
        let features = try XCTUnwrap(
          (JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["features"] as? [String: Any],
          response)
        let servedEnd = (before + 1) * 15
        for size in Self.sizes {
          let window = replayed[size]?["\(customer) \(servedEnd)"]
          let count = (window?["count"] as? Int) ?? 0
          XCTAssertEqual(features["txn_count_\(size)"] as? Int, count, "customer \(customer) \(size)")
          for aggregation in ["sum", "mean", "std", "min", "max"] {
            let expected = window?[aggregation] as? Double ?? (aggregation == "sum" ? 0 : nil)
            let served = features["amount_\(aggregation)_\(size)"] as? Double
            if let expected, let served {
              XCTAssertEqual(
                served, expected, accuracy: 1e-9 * max(1, abs(expected)), "\(customer) \(aggregation) \(size)")
            } else {
              XCTAssertEqual(served == nil, expected == nil, "\(customer) \(aggregation) \(size): \(body)")
            }
          }
        }
        compared += 1
        break
      }
    }
    XCTAssertEqual(compared, 100)
    XCTAssertGreaterThan(droppedPairs, 0, "the late events must close some windows for this to test lateness")
  }

  /// POST /events refuses a body it cannot take whole, naming the event, and appends nothing.
  func testPostEventsRefusesABadEventByIndexAndAppendsNothing() throws {
    let redis = try RedisServerProcess()
    let server = try ServerProcess(arguments: [
      "--redis-url", "redis://127.0.0.1:\(redis.port)", "--stream", "fs:events", "--max-events-per-request", "3",
    ])
    defer { server.stop() }
    func post(_ body: String) -> String {
      server.request("POST /events HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }
    let good = #"{"transaction_id":"t1","customer_id":1,"amount":5,"event_timestamp":1700000000}"#
    let bad = #"{"transaction_id":"t2","customer_id":1,"amount":"lots","event_timestamp":1700000000}"#
    let refused = post("[\(good),\(bad)]")
    XCTAssertTrue(refused.hasPrefix("HTTP/1.1 400"), refused)
    XCTAssertTrue(refused.contains("events[1]"), refused)
    XCTAssertTrue(post("[\(good),\(good),\(good),\(good)]").hasPrefix("HTTP/1.1 413"))
    XCTAssertTrue(post("[{\"a\":[1]}]").hasPrefix("HTTP/1.1 400"))
    XCTAssertTrue(post("{not json").hasPrefix("HTTP/1.1 400"))
    XCTAssertEqual(try redis.cli(["XLEN", "fs:events"]).trimmingCharacters(in: .whitespacesAndNewlines), "0")
    XCTAssertTrue(post(good).hasPrefix("HTTP/1.1 202"))
    XCTAssertEqual(try redis.cli(["XLEN", "fs:events"]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
  }

  /// One entity's events are bounded by --window-max-events-per-entity (the oldest go, counted),
  /// and events every window has passed are dropped from Redis as the hash grows.
  func testAnEntitysStoredEventsAreBoundedAndPruned() throws {
    let redis = try RedisServerProcess()
    let server = try ServerProcess(arguments: [
      "--redis-url", "redis://127.0.0.1:\(redis.port)", "--stream", "fs:events", "--window-max-events-per-entity", "40",
    ])
    defer { server.stop() }
    let now = Date().timeIntervalSince1970
    // 30 events two hours old for customer 7 (stored: no watermark yet), then 100 recent events
    // for customer 8 (bounded to 40), then 12 recent ones for customer 7: its hash goes over
    // the bound, is scanned, and the old ones, closed in every window, go.
    var lines: [String] = []
    for index in 0..<30 {
      lines.append(
        #"{"transaction_id":"old\#(index)","customer_id":7,"amount":1,"event_timestamp":\#(now - 7200 + Double(index))}"#
      )
    }
    for index in 0..<100 {
      lines.append(
        #"{"transaction_id":"new\#(index)","customer_id":8,"amount":2,"event_timestamp":\#(now - 100 + Double(index))}"#
      )
    }
    for index in 0..<12 {
      lines.append(
        #"{"transaction_id":"late\#(index)","customer_id":7,"amount":3,"event_timestamp":\#(now - 50 + Double(index) / 2)}"#
      )
    }
    let body = lines.joined(separator: "\n")
    let posted = server.request("POST /events HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    XCTAssertTrue(posted.hasPrefix("HTTP/1.1 202"), posted)
    XCTAssertNotNil(waitUntil(timeout: 20) { streamCount(server, "featureserver_stream_events_total") == lines.count })
    func length(_ key: String) throws -> Int {
      Int(try redis.cli(["HLEN", key]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
    XCTAssertLessThanOrEqual(try length("fs:win:{customer:8}"), 40)
    XCTAssertGreaterThan(streamCount(server, "featureserver_stream_evicted_events_total"), 0)
    // The two-hour-old events were stored (no watermark yet) and are gone now; the recent stay.
    XCTAssertEqual(try length("fs:win:{customer:7}"), 12)
    let old = try redis.cli(["HEXISTS", "fs:win:{customer:7}", "old0"]).trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertEqual(old, "0")
  }

  /// Bad entries written straight to the stream are counted by problem and skipped; a saved
  /// watermark and an entry id beyond year 9999 are ignored; the good event still counts.
  func testBadStreamEntriesAreCountedByProblemAndNeverStopTheStream() throws {
    let redis = try RedisServerProcess()
    _ = try redis.cli(["SET", "fs:watermark:fs:events:featureserver", "-9223372036854775808"])
    let now = Int(Date().timeIntervalSince1970)
    let entries: [[String]] = [
      ["customer_id", "1", "amount", "5", "event_timestamp", "\(now)"],  // no transaction id
      ["transaction_id", "b", "amount", "5", "event_timestamp", "\(now)"],  // no customer
      ["transaction_id", "c", "customer_id", "1", "amount", "inf", "event_timestamp", "\(now)"],
      ["transaction_id", "d", "customer_id", "1", "amount", "5", "event_timestamp", "99999999999999"],
      ["transaction_id", "e", "customer_id", "-3", "amount", "5", "event_timestamp", "\(now)"],  // id rule
      ["transaction_id", "f", "customer_id", "1", "amount", "5", "event_timestamp", "\(now)"],
    ]
    for fields in entries { _ = try redis.cli(["XADD", "fs:events", "*"] + fields) }
    _ = try redis.cli([
      "XADD", "fs:events", "9999999999999999-1", "transaction_id", "g", "customer_id", "1", "amount", "1",
      "event_timestamp", "\(now)",
    ])
    let server = try ServerProcess(arguments: [
      "--redis-url", "redis://127.0.0.1:\(redis.port)", "--stream", "fs:events",
    ])
    defer { server.stop() }
    XCTAssertNotNil(waitUntil(timeout: 20) { streamCount(server, "featureserver_stream_events_total") == 2 })
    let metrics = server.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
    for (problem, count) in [
      ("missing_transaction_id", 1), ("missing_key", 2), ("invalid_value", 1), ("invalid_time", 1), ("invalid_json", 0),
    ] {
      XCTAssertTrue(
        metrics.contains("featureserver_stream_bad_events_total{problem=\"\(problem)\"} \(count)\n"),
        "\(problem): \(metrics)")
    }
    XCTAssertEqual(try redis.cli(["HLEN", "fs:win:{customer:1}"]).trimmingCharacters(in: .whitespacesAndNewlines), "2")
    XCTAssertTrue(server.log.contains("problem=invalid_value"), server.log)
  }

  private func load(_ redis: RedisServerProcess) throws {
    let result = try runCommand(
      productsDirectory.appendingPathComponent("featureserver").path,
      [
        "load", "--redis-url", "redis://127.0.0.1:\(redis.port)", "--entity", "customer",
        packageRoot.appendingPathComponent("data/customers.csv").path,
      ], timeout: 60)
    XCTAssertEqual(result.status, 0, result.output)
  }

  /// Events over the last hour for `customers` customers, out of order, with late ones.
  static func events(count: Int, customers: Int, now: Double) -> [String] {
    var generator = SystemRandomNumberGenerator()
    var lines: [String] = []
    var newest = now - 3600
    for index in 0..<count {
      // Mostly moving forward in time with jitter; every 20th event is 1-4 minutes late.
      let progress = now - 3600 + 3590 * Double(index) / Double(count)
      var time = progress + Double.random(in: -30...5, using: &generator)
      if index % 20 == 19 { time = newest - Double.random(in: 60...240, using: &generator) }
      time = min(time, now - 1)
      newest = max(newest, time)
      let millis = (time * 1000).rounded() / 1000
      let amount = (Double.random(in: 1...500, using: &generator) * 100).rounded() / 100
      let customer = Int.random(in: 1...customers, using: &generator)
      let stamp = index % 2 == 0 ? "\(millis)" : "\"\(Self.rfc3339(millis))\""
      lines.append(
        #"{"transaction_id":"x\#(index)","customer_id":\#(customer),"amount":\#(amount),"event_timestamp":\#(stamp)}"#)
    }
    return lines
  }

  static func rfc3339(_ seconds: Double) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: seconds))
  }
}

/// A counter's value from /metrics; -1 when absent.
func streamCount(_ server: ServerProcess, _ name: String) -> Int {
  let metrics = server.request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
  for line in metrics.split(separator: "\n") where line.hasPrefix(name + " ") {
    return Int(line.split(separator: " ").last ?? "") ?? -1
  }
  return -1
}
