import Foundation
import TestSupport
import XCTest

/// `featureserver windows` against PySpark Structured Streaming (4.3, in the shared test venv) on
/// the same 20 000 generated events of 500 customers, out of order and late: every window equal
/// (counts exact, sums/means/std within 1e-9), the same event–window pairs dropped.
/// Tests/streaming/spark_parity.py generates the data, runs both and compares.
final class SparkParityTests: XCTestCase {
  func testEveryWindowAndEveryLateDropEqualsSparkStructuredStreaming() throws {
    let venv = try FeastTestEnvironment.venv()
    let workdir = FileManager.default.temporaryDirectory.appendingPathComponent("spark-parity-\(getpid())")
    try? FileManager.default.removeItem(at: workdir)
    defer { try? FileManager.default.removeItem(at: workdir) }
    let result = try runCommand(
      "\(venv)/bin/python",
      [
        packageRoot.appendingPathComponent("Tests/streaming/spark_parity.py").path,
        "--featureserver", productsDirectory.appendingPathComponent("featureserver").path,
        "--workdir", workdir.path, "--events", "20000", "--customers", "500",
      ], timeout: 600)
    // The last line holds the report (after whatever the JVM printed on it).
    let report =
      result.output.range(of: #"{"events""#, options: .backwards).map {
        String(result.output[$0.lowerBound...].prefix { $0 != "\n" })
      } ?? ""
    XCTAssertEqual(result.status, 0, "spark_parity.py: \(result.output.suffix(4000))")
    let parsed = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
    XCTAssertEqual(parsed?["events"] as? Int, 20000, report)
    XCTAssertEqual(parsed?["problem_count"] as? Int, 0, report)
    XCTAssertGreaterThan(parsed?["dropped_events"] as? Int ?? 0, 0, report)
    XCTAssertGreaterThan(parsed?["open_windows"] as? Int ?? 0, 0, report)
  }
}
