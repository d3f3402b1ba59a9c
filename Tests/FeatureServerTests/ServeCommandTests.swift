import Foundation
import TestSupport
import XCTest

/// The real `featureserver` binary, the way the README's first command runs it.
final class ServeCommandTests: XCTestCase {
  func testServeStartsItsOwnRedisLoadsTheBundledDataAndDrainsOnSIGTERM() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    guard which("redis-server") != nil else { throw XCTSkip("redis-server not installed") }
    let port = try freeTCPPort()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--threads", "1", "--bind", "127.0.0.1"]
    var environment = ProcessInfo.processInfo.environment
    environment["FEATURESERVER_PORT"] = "\(port)"  // flags from the environment
    process.environment = environment
    let log = Pipe()
    process.standardError = log
    try process.run()
    defer { if process.isRunning { process.terminate() } }

    var ready = false
    for _ in 0..<300 where !ready {
      if let connection = try? RawConnection(port: port) {
        connection.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
        ready = connection.readResponses(1).first?.hasPrefix("HTTP/1.1 200") ?? false
      }
      if !ready { usleep(50_000) }
    }
    XCTAssertTrue(ready, "the server never became ready")
    let connection = try RawConnection(port: port)
    connection.send(
      "GET /features/customer/42 HTTP/1.1\r\nHost: t\r\n\r\nGET /features/merchant/800 HTTP/1.1\r\nHost: t\r\n\r\n")
    let responses = connection.readResponses(2)
    XCTAssertEqual(responses.count, 2)
    XCTAssertTrue(responses[0].hasPrefix("HTTP/1.1 200"), responses[0])
    XCTAssertTrue(responses[0].contains(#""status":"PRESENT""#), "bundled data is shifted to now: \(responses[0])")
    XCTAssertTrue(responses[1].contains(#""entity":"merchant""#), responses[1])

    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertTrue(
      output.contains(#"msg="loaded bundled data" entity=customer"#) && output.contains("rows=5000"), output)
    XCTAssertTrue(
      output.contains(#"level=notice logger=featureserver.http msg="shutdown signal received, draining""#), output)
    let socketDirectory = "/tmp/featureserver-redis-\(process.processIdentifier)"
    XCTAssertFalse(FileManager.default.fileExists(atPath: socketDirectory), "own redis-server was not cleaned up")
  }

  /// SIGHUP reloads the model file in place; /predict and /metrics move to the new version.
  func testSIGHUPReloadsTheModel() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    guard which("redis-server") != nil else { throw XCTSkip("redis-server not installed") }
    let model = FileManager.default.temporaryDirectory.appendingPathComponent("hup-model-\(getpid()).json")
    let original = try String(contentsOf: packageRoot.appendingPathComponent("models/fraud_xgb.json"), encoding: .utf8)
    try original.write(to: model, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: model) }
    let port = try freeTCPPort()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["serve", "--threads", "2", "--bind", "127.0.0.1", "--port", "\(port)", "--model", model.path]
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer { if process.isRunning { process.terminate() } }
    func request(_ text: String) -> String {
      guard let connection = try? RawConnection(port: port) else { return "" }
      connection.send(text)
      return connection.readResponses(1).first ?? ""
    }
    let body = #"{"transaction_id":"h","customer_id":42,"account_id":7,"merchant_id":3,"amount":25}"#
    let predict = "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    XCTAssertNotNil(waitUntil(timeout: 15) { request(predict).contains(#""model_version":"fraud_xgb-"#) })
    let marker = try XCTUnwrap(original.range(of: #""model_version":""#))
    let version = original[marker.upperBound...].prefix { $0 != "\"" }
    try original.replacingOccurrences(of: String(version), with: "after-sighup").write(
      to: model, atomically: true, encoding: .utf8)
    kill(process.processIdentifier, SIGHUP)
    XCTAssertNotNil(
      waitUntil(timeout: 10) {
        request("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n").contains(
          #"featureserver_model_info{version="after-sighup""#)
      })
    XCTAssertTrue(request(predict).contains(#""model_version":"after-sighup""#))
    XCTAssertTrue(process.isRunning, "SIGHUP must not stop the server")
    kill(process.processIdentifier, SIGTERM)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
  }

  func testLoadReportsBadRowsAndExitsThree() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    let redis = try RedisServerProcess()
    defer { redis.kill(signal: SIGKILL) }
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("load-\(getpid()).csv")
    try "customer_id,age\n1,41\n2,old\n".write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try runCommand(
      binary, ["load", "--redis-url", "redis://127.0.0.1:\(redis.port)", "--entity", "customer", file.path])
    XCTAssertEqual(result.status, 3, result.output)
    XCTAssertTrue(result.output.contains("\(file.path):3: age 'old' is not a int64"), result.output)
    XCTAssertTrue(result.output.contains("loaded 1 customer rows, 1 bad"), result.output)
    XCTAssertEqual(try redis.cli(["HGET", "fs:customer:1", "age"]), "41\n")
  }
}

extension ServeCommandTests {
  func testLoadRefusesBatchSettingsOutsideTheirBoundsNamingTheFlag() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    for (flag, value, expected) in [
      ("--batch-size", "0", "--batch-size must be 1...100000, got 0"),
      ("--batch-size", "9223372036854775807", "--batch-size must be 1...100000, got 9223372036854775807"),
      ("--in-flight-batches", "5000", "--in-flight-batches must be 1...1024, got 5000"),
    ] {
      let result = try runCommand(
        binary, ["load", "--redis-url", "redis://127.0.0.1:1", "--entity", "customer", flag, value, "x.csv"])
      XCTAssertEqual(result.status, 64, result.output)
      XCTAssertTrue(result.output.contains(expected), result.output)
    }
  }
}

/// Bad settings stop `serve` at once with a message that names them.
final class ServeCommandValidationTests: XCTestCase {
  func testBadFlagsEnvironmentAndRegistryAreRefusedWithTheirName() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    let registry = FileManager.default.temporaryDirectory.appendingPathComponent("bad-registry-\(getpid()).yaml")
    try "project: p\nredis_key_prefix: fs\nentities:\n  customer:\n    id: {type: uuid}\n".write(
      to: registry, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: registry) }
    let unfitting = packageRoot.appendingPathComponent(
      "Tests/FeatureServerTests/Fixtures/models/xgb3_binary_logistic.json"
    ).path
    let cases: [(arguments: [String], environment: [String: String], expected: String)] = [
      (["serve", "--max-body-bytes", "0"], [:], "--max-body-bytes must be 1...1099511627776, got 0"),
      (["serve", "--port", "70000"], [:], "--port must be 0...65535"),
      (["serve", "--cache-ttl", "-1"], [:], "--cache-ttl"),
      (["serve", "--log-level", "loud"], [:], "The value 'loud' is invalid for '--log-level"),
      (["serve"], ["FEATURESERVER_PORT": "abc"], "The value 'abc' is invalid for '--port"),
      (["serve", "--redis-url", "http://nope"], [:], "expected redis://host:port/db"),
      (["serve", "--registry", registry.path], [:], "\(registry.path):5: id type must be 'integer' or 'token'"),
      (["serve", "--model", "/nonexistent/m.json"], [:], "--model: /nonexistent/m.json: cannot read the model file"),
      (["serve", "--model", unfitting], [:], "\(unfitting): model input 'f_a' is neither an on-demand feature"),
      (["serve", "--fraud-threshold", "1.5"], [:], "--fraud-threshold must be between 0 and 1"),
      (["serve", "--drift-window=-1"], [:], "--drift-window must be 0 or more"),
      (["serve", "--cache-refresh-ahead", "1"], [:], "--cache-refresh-ahead must be at least 0 and below 1"),
      (["serve"], ["FEATURESERVER_ADMIN_TOKEN": "short"], "--admin-token must be at least 16 characters"),
      (
        ["serve"], ["FEATURESERVER_REDIS_COMMANDS_PER_WRITE": "0"],
        "--redis-commands-per-write must be 1...100000, got 0"
      ),
      // Durations that would overflow the nanosecond clock are refused by name, never trap.
      (
        ["serve", "--cache-ttl", "1e11"], [:],
        "--cache-ttl must be 0 or more and at most 604800 seconds, got 100000000000"
      ),
      (["serve", "--idle-timeout", "1e300"], [:], "--idle-timeout must be more than 0 and at most 604800 seconds"),
      (["serve", "--send-timeout", "nan"], [:], "--send-timeout must be more than 0"),
      (["serve", "--redis-command-timeout", "inf"], [:], "--redis-command-timeout must be more than 0"),
      (["serve", "--negative-cache-ttl", "1e20"], [:], "--negative-cache-ttl must be 0 or more"),
      (["serve", "--stale-if-error", "1e19"], [:], "--stale-if-error must be 0 or more"),
      (["serve", "--max-requests-per-pass", "0"], [:], "--max-requests-per-pass must be 1...1000000, got 0"),
      (["serve", "--model-max-depth", "0"], [:], "--model-max-depth must be 1...10000, got 0"),
      (["serve", "--stream-niceness", "20"], [:], "--stream-niceness must be 0...19, got 20"),
      (["serve"], ["FEATURESERVER_STREAM_NICENESS": "-1"], "--stream-niceness must be 0...19, got -1"),
    ]
    for entry in cases {
      // A case that wrongly starts a server is killed by the timeout, and fails below.
      let (status, text) = try runCommand(binary, entry.arguments, environment: entry.environment, timeout: 10)
      XCTAssertNotEqual(status, 0, "\(entry.arguments) \(entry.environment)")
      XCTAssertTrue(text.contains(entry.expected), "\(entry.arguments) \(entry.environment): \(text)")
    }
  }

  /// A Redis URL that cannot be used is named in the error without its password.
  func testRedisURLErrorsNeverShowThePassword() throws {
    let binary = productsDirectory.appendingPathComponent("featureserver").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("featureserver not built") }
    for url in [
      "redis://user:s3cr3t-pw@127.0.0.1:notaport/0", "redis://:s3cr3t-pw@127.0.0.1:6379/99",
      "redis://:s3cr3t-pw@no-such-host.invalid:6379/0", "redis://user:s3cr3t-pw%zz@127.0.0.1/0",
      "redis://s3cr3t-pw@[::1/0",
    ] {
      let (status, text) = try runCommand(binary, ["serve", "--redis-url", url], timeout: 10)
      XCTAssertNotEqual(status, 0, url)
      XCTAssertTrue(text.contains("--redis-url"), "\(url): \(text)")
      XCTAssertFalse(text.contains("s3cr3t"), "the password leaked: \(text)")
    }
  }
}
