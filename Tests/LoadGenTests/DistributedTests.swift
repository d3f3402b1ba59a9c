import Dispatch
import Foundation
import TestSupport
import XCTest

@testable import LoadGen

/// A master and workers on loopback against a real featureserver: the load is split, every
/// worker's measurements arrive, and the merge is exact.
final class DistributedTests: XCTestCase {
  /// Runs a master and `workers` in-process workers (threads of their own, each with its own
  /// loops and connections, speaking the protocol over loopback TCP).
  func runFleet(
    target: FeatureServerTarget, workers count: Int, load configure: (inout LoadOptions) -> Void
  ) throws -> (LoadResult, [LoadResult]) {
    var load = LoadOptions(address: "", port: 0, hostHeader: "")
    load.stopTimeout = 2
    configure(&load)
    var options = MasterOptions(host: target.url, scenario: .builtIn("fraud"), load: load)
    options.bindHost = "127.0.0.1"
    options.bindPort = 0
    options.expectWorkers = count
    options.expectWorkersMaxWait = 20
    let master = try DistributedMaster(options: options)
    let results = Collected<LoadResult>()
    let failures = Collected<String>()
    let finished = DispatchGroup()
    DispatchQueue.global().async(group: finished) {
      do { results.append(try master.run()) } catch { failures.append("master: \(error)") }
    }
    let workers = try (0..<count).map { _ in
      var workerOptions = WorkerOptions()
      workerOptions.masterPort = master.port
      workerOptions.connectTimeout = 10
      return try DistributedWorker(options: workerOptions)
    }
    for worker in workers {
      DispatchQueue.global().async(group: finished) {
        do {
          let outcome = try worker.run()
          if case .finished = outcome {} else { failures.append("worker: \(outcome)") }
        } catch {
          failures.append("worker: \(error)")
        }
      }
    }
    XCTAssertEqual(finished.wait(timeout: .now() + load.runTime + 40), .success, "the fleet finished")
    XCTAssertEqual(failures.values, [])
    let merged = try XCTUnwrap(results.values.first)
    return (merged, workers.compactMap(\.localResult))
  }

  /// 3 workers, closed loop: the master's totals are the sum of the workers', and every
  /// request name's histogram is the one all workers' raw values make: equal bucket for bucket,
  /// so every percentile, the minimum and the maximum are exactly equal.
  func testMergedPercentilesEqualOneHistogramOfEveryWorkersValues() throws {
    let target = try FeatureServerTarget()
    defer { target.stop() }
    let (merged, locals) = try runFleet(target: target, workers: 3) { load in
      load.users = 7
      load.spawnRate = 100
      load.runTime = 3
    }
    XCTAssertEqual(locals.count, 3)
    XCTAssertEqual(merged.workers.count, 3)
    XCTAssertEqual(merged.workers.map(\.users).sorted(), [2, 2, 3], "7 users split as evenly as whole users allow")
    XCTAssertEqual(merged.users, 7)
    XCTAssertFalse(merged.incomplete)
    XCTAssertEqual(merged.statistics.total.requests, locals.map(\.statistics.total.requests).reduce(0, +))
    XCTAssertGreaterThan(merged.statistics.total.requests, 300)
    XCTAssertEqual(merged.statistics.total.failures, 0, "\(merged.statistics.failures)")
    XCTAssertEqual(merged.workers.map(\.requests).sorted(), locals.map(\.statistics.total.requests).sorted())

    var names = Set<String>()
    for local in locals { for entry in local.statistics.entries { names.insert("\(entry.method) \(entry.name)") } }
    names.insert("Aggregated")
    for name in names {
      var expected = RequestStatistics(method: "", name: name)
      for local in locals {
        if name == "Aggregated" {
          expected.merge(local.statistics.total)
        } else if let entry = local.statistics.entry(matching: name) {
          expected.merge(entry)
        }
      }
      let actual = try XCTUnwrap(
        name == "Aggregated" ? merged.statistics.total : merged.statistics.entry(matching: name))
      XCTAssertEqual(actual.histogram, expected.histogram, name)
      XCTAssertEqual(actual.requests, expected.requests, name)
      XCTAssertEqual(actual.totalMicroseconds, expected.totalMicroseconds, name)
      XCTAssertEqual(actual.histogram.min, expected.histogram.min, name)
      XCTAssertEqual(actual.histogram.maxRecorded, expected.histogram.maxRecorded, name)
      for percentile in [50.0, 66, 75, 90, 95, 99, 99.9, 99.99, 100] {
        XCTAssertEqual(
          actual.milliseconds(atPercentile: percentile), expected.milliseconds(atPercentile: percentile),
          "\(name) p\(percentile)")
      }
    }
    // Each second's point merges the workers' seconds: their requests add up to the run's
    // (the drain after the run time has no point of its own).
    let perSecond = merged.history.reduce(0) { $0 + Int($1.requestsPerSecond) }
    XCTAssertLessThanOrEqual(perSecond, merged.statistics.total.requests)
    XCTAssertGreaterThanOrEqual(merged.history.count, 2)
  }

  /// Open loop: the arrival rate is split across 3 workers and each keeps its share (±2 %),
  /// and so does the fleet.
  func testOpenLoopRateIsSplitAcrossWorkersAndHonoured() throws {
    let target = try FeatureServerTarget()
    defer { target.stop() }
    let (merged, locals) = try runFleet(target: target, workers: 3) { load in
      load.users = 6
      load.rate = 600
      load.runTime = 4
    }
    XCTAssertEqual(merged.workers.map(\.rate), [200, 200, 200])
    XCTAssertEqual(merged.workers.map(\.users), [2, 2, 2])
    for local in locals {
      XCTAssertEqual(Double(local.statistics.scheduled), 800, accuracy: 16, "each worker keeps 200/s")
    }
    XCTAssertEqual(Double(merged.statistics.scheduled), 2400, accuracy: 48)
    XCTAssertEqual(merged.statistics.scheduled, locals.map(\.statistics.scheduled).reduce(0, +))
    XCTAssertEqual(merged.statistics.total.requests, merged.statistics.scheduled, accuracy: 6)
    XCTAssertEqual(merged.statistics.total.failures, 0, "\(merged.statistics.failures)")
  }
}
