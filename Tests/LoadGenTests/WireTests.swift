import Histogram
import XCTest

@testable import LoadGen

/// What travels between worker and master comes back exactly.
final class WireTests: XCTestCase {
  func histogram(_ values: [UInt64]) -> Histogram<UInt64> {
    var statistics = RequestStatistics(method: "GET", name: "/x")
    for value in values { _ = statistics.histogram.record(value) }
    return statistics.histogram
  }

  /// Several workers' histograms, each sent and restored, then merged: the same histogram as
  /// one fed every raw value (buckets, count, min, max and every percentile).
  func testRestoredHistogramsMergeToTheHistogramOfAllRawValues() {
    var random = FastRandom(seed: 7)
    var everything: [UInt64] = []
    var merged = RequestStatistics(method: "GET", name: "/x").histogram
    for worker in 0..<5 {
      // Log-uniform from 1 µs to ~10 s, plus exact repeats at the edges of buckets.
      var values = (0..<(2000 + worker * 300)).map { _ in UInt64(exp(random.unit() * 16.1)) + 1 }
      values += [2047, 2048, 2049, 4095, 4096, 123_456_789]
      everything += values
      var restored = RequestStatistics(method: "GET", name: "/x").histogram
      let wire = WireHistogram(histogram(values))
      let encoded = try! JSONEncoder().encode(wire)
      XCTAssertTrue(try! JSONDecoder().decode(WireHistogram.self, from: encoded).restore(into: &restored))
      XCTAssertEqual(restored, histogram(values))
      XCTAssertEqual(restored.min, values.min())
      XCTAssertEqual(restored.maxRecorded, values.max())
      merged.add(restored)
    }
    let direct = histogram(everything)
    XCTAssertEqual(merged, direct)
    XCTAssertEqual(merged.min, direct.min)
    XCTAssertEqual(merged.max, direct.max)
    XCTAssertEqual(merged.totalCount, UInt64(everything.count))
    for percentile in [0.0, 1, 25, 50, 90, 99, 99.9, 99.99, 99.999, 100] {
      XCTAssertEqual(merged.valueAtPercentile(percentile), direct.valueAtPercentile(percentile), "p\(percentile)")
    }
  }

  /// The minimum and maximum in one bucket, a single value, and no values at all.
  func testExtremesInOneBucketAndEmptyHistogramsComeBack() {
    for values: [UInt64] in [[5_000_001, 5_000_003, 5_000_002], [77], []] {
      var restored = RequestStatistics(method: "GET", name: "/x").histogram
      XCTAssertTrue(WireHistogram(histogram(values)).restore(into: &restored))
      XCTAssertEqual(restored, histogram(values), "\(values)")
      XCTAssertEqual(restored.min, histogram(values).min, "\(values)")
      XCTAssertEqual(restored.maxRecorded, histogram(values).maxRecorded, "\(values)")
    }
  }

  /// A report a worker could not have sent is refused, not merged.
  func testImpossibleHistogramsAreRefused() {
    let cases: [WireHistogram] = [
      WireHistogram(buckets: [10], min: 10, max: 10),  // odd count of numbers
      WireHistogram(buckets: [10, 0], min: 10, max: 10),  // a bucket of count 0
      WireHistogram(buckets: [10, 1], min: 20, max: 10),  // min above max
      WireHistogram(buckets: [UInt64.max, 1], min: 1, max: UInt64.max),  // beyond the trackable range
      WireHistogram(buckets: [50, 1], min: 10, max: 20),  // a bucket above the maximum
    ]
    for wire in cases {
      var histogram = RequestStatistics(method: "GET", name: "/x").histogram
      XCTAssertFalse(wire.restore(into: &histogram), "\(wire)")
    }
    var entry = WireRequestStatistics(RequestStatistics(method: "GET", name: "/x"))
    entry.requests = 3  // counts that disagree with the histogram's
    XCTAssertNil(entry.restored())
  }

  /// Reports beyond what a worker measures in a second are refused before anything is summed:
  /// a histogram and count of 2e9 requests, microseconds above requests × the maximum, more
  /// failures than requests, entries adding up past the report's bound, more late starts
  /// than scheduled requests. And the master's run totals refuse a report that would overflow.
  func testReportsBeyondOneWorkerSecondAreRefusedAndTotalsNeverOverflow() {
    func entry(requests: UInt64, microseconds: UInt64, value: UInt64 = 3_000_000_000) -> WireRequestStatistics {
      var statistics = RequestStatistics(method: "GET", name: "/x")
      _ = statistics.histogram.record(value, count: requests)
      statistics.requests = Int(requests)
      statistics.totalMicroseconds = microseconds
      return WireRequestStatistics(statistics)
    }
    XCTAssertNil(entry(requests: 2_000_000_000, microseconds: 2_000_000_000).restored(), "over 1e9 requests")
    XCTAssertNil(entry(requests: 10, microseconds: 30_000_000_001).restored(), "more time than 10 × the maximum")
    XCTAssertNotNil(entry(requests: 10, microseconds: 30_000_000_000).restored())

    var report = WireLoadStatistics(LoadStatistics())
    report.entries = Array(repeating: entry(requests: 400_000_000, microseconds: 400_000_000), count: 3)
    XCTAssertNil(report.restored(), "entries within bounds adding up to 1.2e9 requests")
    report.entries = [entry(requests: 2, microseconds: 6)]
    report.failures = [WireFailure(method: "GET", name: "/x", error: "e", occurrences: 3, firstSeen: 0, lastSeen: 0)]
    XCTAssertNil(report.restored(), "3 failures of 2 requests")
    report.failures = []
    report.scheduled = 5
    report.lateStarts = 6
    XCTAssertNil(report.restored(), "6 late of 5 scheduled")
    report.lateStarts = 5
    XCTAssertNotNil(report.restored())

    var large = RequestStatistics(method: "", name: "")
    large.requests = Int.max - 1
    XCTAssertNotNil(RunningTotals().adding(large, scheduled: 0))
    XCTAssertNil(RunningTotals(requests: 2).adding(large, scheduled: 0))
    XCTAssertNil(RunningTotals(scheduled: Int.max).adding(RequestStatistics(method: "", name: ""), scheduled: 1))
  }

  /// Frames split anywhere, byte by byte, come out whole and in order; an announced length
  /// above the bound is refused from its 4 length bytes.
  func testFramesAreReassembledByteByByteAndBounded() {
    let payloads: [[UInt8]] = [Array("{\"stop\":{}}".utf8), [], Array(repeating: 0x41, count: 70_000)]
    let stream = payloads.flatMap(FrameBuffer.frame)
    var buffer = FrameBuffer(maximumFrameBytes: 100_000)
    var out: [[UInt8]] = []
    for byte in stream {
      buffer.append([byte])
      while case .frame(let frame) = buffer.next() { out.append(frame) }
    }
    XCTAssertEqual(out, payloads)
    var small = FrameBuffer(maximumFrameBytes: 1000)
    small.append([0, 0, 0x03])
    XCTAssertEqual(small.next(), .incomplete)
    small.append([0xE9])
    XCTAssertEqual(small.next(), .tooLarge(1001))
  }

  /// Every message survives its JSON encoding; garbage is not a message.
  func testMessagesRoundTripAndGarbageIsRejected() {
    let hello = WireMessage.hello(
      .init(protocolVersion: 1, version: "x", name: "h:1", threads: 2, scenarioFingerprint: nil))
    guard case .hello(let decoded)? = WireMessage.decode(hello.encoded()) else { return XCTFail("hello") }
    XCTAssertEqual(decoded.name, "h:1")
    XCTAssertNil(WireMessage.decode(Array("{\"launch\":{}}".utf8)))
    XCTAssertNil(WireMessage.decode([0xFF, 0x00]))
    XCTAssertNotEqual(ScenarioSource.yaml("a").fingerprint, ScenarioSource.yaml("b").fingerprint)
    XCTAssertEqual(ScenarioSource.yaml("a").fingerprint, ScenarioSource.yaml("a").fingerprint)
  }
}
