import Foundation
import HTTPCore
import Reactor
import RedisPool
import TestSupport
import XCTest

@testable import FeatureServer

final class LoaderTests: XCTestCase {
  var redis: RedisServerProcess!
  var group: EventLoopGroup!
  var pool: RedisPool!
  var loader: Loader!
  var directory: URL!

  override func setUpWithError() throws {
    redis = try RedisServerProcess()
    group = try EventLoopGroup(threads: 1)
    try group.start()
    var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(redis.port)")
    configuration.poolSize = 1
    pool = try RedisPool(configuration: configuration, group: group)
    pool.start()
    XCTAssertNotNil(waitUntil(timeout: 5) { self.pool.statisticsSnapshot().connectionsUp == 1 })
    loader = Loader(registry: try RegistryLoader.load(path: RegistryLoader.bundledPath), pool: pool)
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("loader-\(getpid())-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDown() {
    pool.close()
    usleep(50_000)
    group.stop()
    group.wait()
    redis.kill(signal: SIGKILL)
    try? FileManager.default.removeItem(at: directory)
  }

  func write(_ name: String, _ text: String) throws -> String {
    let path = directory.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func hash(_ key: String) throws -> [String: String] {
    let lines = try redis.cli(["HGETALL", key]).split(separator: "\n").map(String.init)
    var result: [String: String] = [:]
    var index = 0
    while index + 1 < lines.count {
      result[lines[index]] = lines[index + 1]
      index += 2
    }
    return result
  }

  func testBadRowsAreReportedWithFileAndLineAndTheRestLoads() throws {
    let path = try write(
      "customers.csv",
      """
      customer_id,event_timestamp,age,home_country,is_premium
      1,1700000000,41,US,true
      2,1700000000,forty,GB,false
      x,1700000000,30,US,false
      4,1700000000,30,US
      5,yesterday,30,US,false
      "6",1700000000,52,"Côte d'Ivoire, West",maybe
      7,1700000000,,FR,

      """)
    let report = try loader.load(entity: "customer", path: path, options: Loader.Options())
    XCTAssertEqual(report.loaded, 2)
    XCTAssertEqual(report.badRows.map(\.line), [3, 4, 5, 6, 7])
    XCTAssertEqual(report.badRows.map(\.file), Array(repeating: path, count: 5))
    XCTAssertTrue(report.badRows[0].reason.contains("age 'forty' is not a int64"), report.badRows[0].reason)
    XCTAssertTrue(report.badRows[1].reason.contains("customer_id 'x'"), report.badRows[1].reason)
    XCTAssertTrue(report.badRows[2].reason.contains("4 fields, expected 5"), report.badRows[2].reason)
    XCTAssertTrue(report.badRows[3].reason.contains("event_timestamp 'yesterday'"), report.badRows[3].reason)
    XCTAssertTrue(report.badRows[4].reason.contains("is_premium 'maybe'"), report.badRows[4].reason)
    XCTAssertEqual(
      try hash("fs:customer:1"), ["age": "41", "home_country": "US", "is_premium": "true", "_ts": "1700000000"])
    XCTAssertEqual(try hash("fs:customer:7"), ["home_country": "FR", "_ts": "1700000000"], "empty cells are missing")
    XCTAssertEqual(try hash("fs:customer:2"), [:])
  }

  func testStrictStopsAtTheFirstBadRow() throws {
    let path = try write("c.csv", "customer_id,age\n1,41\n2,old\n3,50\n")
    var options = Loader.Options()
    options.strict = true
    XCTAssertThrowsError(try loader.load(entity: "customer", path: path, options: options)) { error in
      XCTAssertTrue("\(error)".contains("c.csv:3: age 'old'"), "\(error)")
    }
    XCTAssertEqual(try hash("fs:customer:1"), [:], "strict validates everything before writing")
  }

  func testUnknownColumnsAndEntitiesAreRefused() throws {
    let path = try write("c.csv", "customer_id,shoe_size\n1,41\n")
    XCTAssertThrowsError(try loader.load(entity: "customer", path: path, options: Loader.Options())) {
      XCTAssertTrue("\($0)".contains("column 'shoe_size' is not a feature of 'customer'"), "\($0)")
    }
    XCTAssertThrowsError(try loader.load(entity: "planet", path: path, options: Loader.Options()))
    XCTAssertThrowsError(try loader.load(entity: "customer", path: "/nonexistent.csv", options: Loader.Options()))
  }

  func testJSONLinesWithTypedValues() throws {
    let path = try write(
      "m.jsonl",
      """
      {"merchant_id": 9, "event_timestamp": 1700000000, "merchant_category": "crypto", "risk_level": 5, "is_online": true, "fraud_rate_90d": 0.05}
      {"merchant_id": "10", "risk_level": "high"}
      not json
      {"merchant_id": 11, "favourite_colour": "red"}
      {"merchant_id": 12, "country": null}
      """)
    let report = try loader.load(entity: "merchant", path: path, options: Loader.Options())
    XCTAssertEqual(report.loaded, 1)
    XCTAssertEqual(report.badRows.map(\.line), [2, 3, 4, 5])
    XCTAssertTrue(report.badRows[3].reason.contains("no feature values"), report.badRows[3].reason)
    XCTAssertEqual(
      try hash("fs:merchant:9"),
      [
        "merchant_category": "crypto", "risk_level": "5", "is_online": "true", "fraud_rate_90d": "0.05",
        "_ts": "1700000000",
      ])
  }

  func testLoadingTwiceGivesTheSameStateAndDropsStaleFields() throws {
    try redis.cli(["HSET", "fs:account:1", "balance", "1", "legacy_field", "x"])
    let path = try write("a.csv", "account_id,event_timestamp,balance,account_type\n1,1700000000,10.5,credit\n")
    XCTAssertEqual(try loader.load(entity: "account", path: path, options: Loader.Options()).loaded, 1)
    let first = try hash("fs:account:1")
    XCTAssertEqual(try loader.load(entity: "account", path: path, options: Loader.Options()).loaded, 1)
    XCTAssertEqual(try hash("fs:account:1"), first)
    XCTAssertEqual(first, ["balance": "10.5", "account_type": "credit", "_ts": "1700000000"])
  }

  func testShiftingTimestampsMovesTheNewestToNow() throws {
    let path = try write("c.csv", "customer_id,event_timestamp,age\n1,1000,1\n2,2000,2\n")
    var options = Loader.Options()
    options.shiftTimestampsToNow = true
    _ = try loader.load(entity: "customer", path: path, options: options)
    let now = Int(Date().timeIntervalSince1970)
    let newest = Int(try hash("fs:customer:2")["_ts"] ?? "") ?? 0
    let oldest = Int(try hash("fs:customer:1")["_ts"] ?? "") ?? 0
    XCTAssertLessThanOrEqual(abs(newest - now), 2)
    XCTAssertEqual(newest - oldest, 1000)
  }

  func testTheBundledDataLoadsCleanly() throws {
    let root = URL(fileURLWithPath: RegistryLoader.bundledPath).deletingLastPathComponent().deletingLastPathComponent()
    for (file, entity, rows) in [
      ("customers", "customer", 5000), ("accounts", "account", 6000), ("merchants", "merchant", 800),
    ] {
      let report = try loader.load(
        entity: entity, path: root.appendingPathComponent("data/\(file).csv").path, options: Loader.Options())
      XCTAssertEqual(report.loaded, rows, file)
      XCTAssertEqual(report.badRows.count, 0, file)
    }
  }

  func testCSVRecordsAreTheSameFedByteByByteAsInOneChunk() throws {
    let text = "a,b,c\r\n1,\"x, \"\"quoted\"\"\",3\n\n\"multi\nline\",,\n4,5,6"
    func records(chunk: Int) throws -> [[String]] {
      var reader = CSVReader()
      var records: [[String]] = []
      let bytes = Array(text.utf8)
      let collect = { (record: CSVReader.Record) in records.append((0..<record.fieldCount).map { record.field($0) }) }
      for start in stride(from: 0, to: bytes.count, by: chunk) {
        try bytes[start..<min(bytes.count, start + chunk)].withUnsafeBytes { try reader.feed($0, collect) }
      }
      try reader.finish(collect)
      return records
    }
    let whole = try records(chunk: 1 << 20)
    XCTAssertEqual(whole, [["a", "b", "c"], ["1", "x, \"quoted\"", "3"], ["multi\nline", "", ""], ["4", "5", "6"]])
    XCTAssertEqual(try records(chunk: 1), whole)
    XCTAssertEqual(try records(chunk: 2), whole)
  }

  func testAnUnclosedQuoteIsRefusedWithinTheRecordBound() throws {
    var reader = CSVReader(maxRecordBytes: 64)
    let text = Array("id,name\n1,\"never closed\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 100)
    XCTAssertThrowsError(try text.withUnsafeBytes { try reader.feed($0) { _ in } }) {
      XCTAssertTrue("\($0)".contains("line 2: a record longer than 64 bytes"), "\($0)")
    }
    let path = try write("open.csv", "customer_id,age\n1,\"41\n")
    XCTAssertThrowsError(try loader.load(entity: "customer", path: path, options: Loader.Options())) {
      XCTAssertTrue("\($0)".contains("not closed"), "\($0)")
    }
  }

  func testBadRowsBeyondTheReportedOnesAreCounted() throws {
    var text = "customer_id,age\n"
    for id in 1...50 { text += "\(id),\(id % 2 == 0 ? "old" : "30")\n" }
    var options = Loader.Options()
    options.maxReportedBadRows = 10
    let report = try loader.load(entity: "customer", path: try write("c.csv", text), options: options)
    XCTAssertEqual(report.loaded, 25)
    XCTAssertEqual(report.badRows.count, 10)
    XCTAssertEqual(report.badRowCount, 25)
  }

  func testAFileOfManyChunksLoadsEveryRowWithProgress() throws {
    var text = "customer_id,event_timestamp,age,home_country\n"
    for id in 1...30_000 { text += "\(id),1700000000,\(18 + id % 60),\"GB\"\n" }
    let path = try write("many.csv", text)
    var options = Loader.Options()
    options.batchSize = 100
    var progress: [Loader.Progress] = []
    let report = try loader.load(entity: "customer", path: path, options: options) { progress.append($0) }
    XCTAssertEqual(report.loaded, 30_000)
    XCTAssertEqual(report.badRowCount, 0)
    XCTAssertEqual(progress.last?.rowsWritten, 30_000)
    XCTAssertEqual(progress.last?.bytesRead, text.utf8.count)
    XCTAssertEqual(try redis.cli(["DBSIZE"]).trimmingCharacters(in: .whitespacesAndNewlines), "30000")
    XCTAssertEqual(try hash("fs:customer:29999")["age"], "\(18 + 29999 % 60)")
  }
}
