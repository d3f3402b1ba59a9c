import XCTest

@_spi(Benchmarks) @testable import FeatureServer

/// The window engine's rules, each on the smallest input that shows it.
final class WindowEngineTests: XCTestCase {
  private let second: Int64 = 1_000_000

  private func event(_ key: String, _ seconds: Double, _ value: Double, id: String? = nil) -> WindowEvent {
    WindowEvent(
      transactionID: id, key: key, keyJSON: Array("\"\(key)\"".utf8), time: Int64(seconds * 1e6), value: value)
  }

  func testAnEventBelongsToSizeOverSlideHalfOpenWindowsAlignedToTheEpoch() {
    let window = SlidingWindow(size: 60 * second, slide: 15 * second)
    XCTAssertEqual(Array(window.starts(containing: 65 * second)), [60, 45, 30, 15].map { $0 * second })
    // 60.0 s is not in [0, 60): half-open.
    XCTAssertEqual(Array(window.starts(containing: 60 * second)), [60, 45, 30, 15].map { $0 * second })
    XCTAssertEqual(Array(window.starts(containing: 59_999_999)), [45, 30, 15, 0].map { $0 * second })
    // Before 1970 the modulo stays non-negative, as Spark makes it.
    XCTAssertEqual(window.lastStart(containing: -1), -15 * second)
    XCTAssertEqual(window.servedWindow(at: 70 * second).start, 15 * second)
    XCTAssertEqual(window.servedWindow(at: 70 * second).end, 75 * second)
  }

  func testSampleStandardDeviationIsNullBelowTwoValuesAndDoesNotCancel() {
    var accumulator = WindowAccumulator()
    accumulator.add(1e9 + 1)
    XCTAssertNil(accumulator.sampleStandardDeviation)
    accumulator.add(1e9 + 2)
    accumulator.add(1e9 + 3)
    // A sum-of-squares formula loses every digit here; Welford's keeps them.
    XCTAssertEqual(accumulator.sampleStandardDeviation!, 1, accuracy: 1e-9)
    XCTAssertEqual(accumulator.mean!, 1e9 + 2)
    XCTAssertEqual(accumulator.minimum, 1e9 + 1)
    XCTAssertEqual(accumulator.maximum, 1e9 + 3)
  }

  func testALateEventIsDroppedOnlyFromTheWindowsTheWatermarkClosed() {
    var replay = WindowReplay(window: SlidingWindow(size: 60 * second, slide: 15 * second), delay: 120 * second)
    _ = replay.add(event("u", 5, 10))
    _ = replay.add(event("u", 20, 20))
    let closed = replay.add(event("u", 180, 30))  // watermark 60 s: [0, 60) and earlier close
    XCTAssertEqual(closed.map { $0.start / second }, [-45, -30, -15, 0])
    XCTAssertEqual(closed.last?.aggregates.count, 2)
    // 55 s is in [0,60) (closed: dropped), [15,75), [30,90), [45,105) (open: counted).
    XCTAssertEqual(replay.add(event("u", 55, 43)), [])
    XCTAssertEqual(replay.droppedPairs, 1)
    XCTAssertEqual(replay.droppedEvents, 0)
    // 1 s is only in windows ending by 60 s: dropped everywhere.
    _ = replay.add(event("u", 1, 7))
    XCTAssertEqual(replay.droppedEvents, 1)
    let open = replay.openWindows()
    let window15 = open.first { $0.start == 15 * second }
    XCTAssertEqual(window15?.aggregates.count, 2)  // 20 and 55
    XCTAssertEqual(window15?.aggregates.sum, 63)
    XCTAssertTrue(open.allSatisfy(\.open))
  }

  func testEventsParseRFC3339AndEpochSecondsAndRefuseWhatCannotBeCounted() {
    let schema = WindowEventSchema(keyField: "customer_id", valueField: "amount")
    func parse(_ text: String) -> Result<WindowEvent, WindowEventProblem> { schema.parse(Array(text.utf8)) }
    let rfc = try? parse(
      #"{"transaction_id":"t1","customer_id":42,"amount":12.5,"event_timestamp":"2026-01-01T00:00:01.5Z"}"#
    ).get()
    XCTAssertEqual(rfc?.time, 1_767_225_601_500_000)
    XCTAssertEqual(rfc?.key, "42")
    XCTAssertEqual(rfc?.keyJSON, Array("42".utf8))
    let epoch = try? parse(#"{"transaction_id":7,"customer_id":"c-1","amount":"3","event_timestamp":1700000000.123}"#)
      .get()
    XCTAssertEqual(epoch?.time, 1_700_000_000_123_000)
    XCTAssertEqual(epoch?.transactionID, "7")
    let cases: [(String, WindowEventProblem)] = [
      ("not json", .invalidJSON),
      (#"{"customer_id":1,"amount":1,"event_timestamp":1}"#, .missingTransactionID),
      (#"{"transaction_id":"t","amount":1,"event_timestamp":1}"#, .missingKey),
      (#"{"transaction_id":"t","customer_id":1,"amount":"NaN","event_timestamp":1}"#, .invalidValue),
      (#"{"transaction_id":"t","customer_id":1,"amount":1e999,"event_timestamp":1}"#, .invalidValue),
      (#"{"transaction_id":"t","customer_id":1,"amount":1,"event_timestamp":1e300}"#, .invalidTime),
      (#"{"transaction_id":"t","customer_id":1,"amount":1,"event_timestamp":"yesterday"}"#, .invalidTime),
      (#"{"transaction_id":"t","customer_id":1.5,"amount":1,"event_timestamp":1}"#, .missingKey),
    ]
    for (text, problem) in cases {
      XCTAssertEqual(parse(text).failure, problem, text)
    }
  }

  func testServedValuesCountAnEventOnlyInWindowsThatWereOpenWhenItArrived() throws {
    let registry = try RegistryLoader.parse(
      """
      project: p
      redis_key_prefix: fs
      entities:
        customer:
          id: {type: integer}
          max_age: 1d
          features: [{name: age, type: int64}]
          windows:
            key: customer_id
            value: amount
            slide: 15s
            watermark: 2m
            sizes: [1m]
            aggregations: [count, sum, std]
            trailing: {over: 60s, aggregations: [mean, std]}
      """)
    let entity = try XCTUnwrap(registry.entity(named: "customer"))
    let windows = try XCTUnwrap(entity.windows)
    XCTAssertEqual(
      entity.features.map(\.name),
      ["age", "txn_count_1m", "amount_sum_1m", "amount_std_1m", "amount_mean_60s", "amount_std_60s"])
    // now = 100 s: served 1m window [45, 105); trailing (40, 100].
    // The 60 s event arrived when windows ending by 105 s had closed: not counted in [45, 105).
    let events = StoredWindowEvents([
      .init(time: 50 * second, value: 1, cutoff: Int64.min), .init(time: 60 * second, value: 2, cutoff: 105 * second),
      .init(time: 70 * second, value: 4, cutoff: Int64.min), .init(time: 30 * second, value: 100, cutoff: Int64.min),
    ])
    let values = windows.values(of: events, now: 100 * second)
    XCTAssertEqual(values[0], .int64(2))
    XCTAssertEqual(values[1], .double(5))
    XCTAssertEqual(values[2], .double(Double(4.5).squareRoot()))
    XCTAssertEqual(values[3], .double(7.0 / 3))  // trailing ignores the cutoff: 1, 2, 4
    let empty = windows.values(of: StoredWindowEvents(), now: 100 * second)
    XCTAssertEqual(empty, [.int64(0), .double(0), nil, .double(0), .double(0)])
  }

  func testARegistryWindowDeclarationWithAMistakeFailsWithItsLine() {
    let base = """
      project: p
      redis_key_prefix: fs
      entities:
        customer:
          id: {type: integer}
          max_age: 1d
          features: [{name: txn_count_1m, type: int64}]
          windows:
            key: customer_id
            value: amount
            slide: 15s
            watermark: 2m

      """
    XCTAssertThrowsError(try RegistryLoader.parse(base + "      sizes: [1m]\n      aggregations: [count]\n")) {
      XCTAssertTrue("\($0)".contains("has the name of another feature"), "\($0)")
    }
    XCTAssertThrowsError(try RegistryLoader.parse(base + "      sizes: [50s]\n      aggregations: [sum]\n")) {
      XCTAssertTrue("\($0)".contains("whole number of slides"), "\($0)")
    }
    XCTAssertThrowsError(try RegistryLoader.parse(base + "      sizes: [1m]\n      aggregations: [median]\n")) {
      XCTAssertTrue("\($0)".contains("unknown aggregation 'median'"), "\($0)")
    }
  }
}

extension Result {
  fileprivate var failure: Failure? {
    if case .failure(let failure) = self { return failure }
    return nil
  }
}
