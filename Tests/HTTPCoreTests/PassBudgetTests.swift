import Reactor
import XCTest

@testable import HTTPCore

/// The share one connection gets of one loop pass: requests, output bytes and time.
final class PassBudgetTests: XCTestCase {
  func testTheFirstRequestAlwaysGoesEvenWithNoTimeLeft() {
    var budget = PassBudget(requests: 5, outputBytes: 1024, outputAlreadyPending: 0, time: 0)
    XCTAssertTrue(budget.allowsAnother(outputPending: 0))
    XCTAssertFalse(budget.allowsAnother(outputPending: 0), "a zero time share ends the pass after one request")
  }

  func testAPassTakesAtMostItsRequestShare() {
    var budget = PassBudget(requests: 3, outputBytes: 1 << 20, outputAlreadyPending: 0, time: 60_000_000_000)
    var taken = 0
    while budget.allowsAnother(outputPending: 0) {
      budget.requestsLeft -= 1
      taken += 1
    }
    XCTAssertEqual(taken, 3)
  }

  func testOutputProducedThisPassEndsIt() {
    // 500 bytes were already waiting; the share counts only what this pass adds.
    var budget = PassBudget(requests: 100, outputBytes: 1000, outputAlreadyPending: 500, time: 60_000_000_000)
    XCTAssertTrue(budget.allowsAnother(outputPending: 500))
    XCTAssertTrue(budget.allowsAnother(outputPending: 1499))
    XCTAssertFalse(budget.allowsAnother(outputPending: 1500))
  }

  func testTheTimeShareEndsAPassOfManyRequests() {
    var budget = PassBudget(requests: 1_000_000, outputBytes: 1 << 30, outputAlreadyPending: 0, time: 2_000_000)
    let start = monotonicNanoseconds()
    var taken = 0
    while budget.allowsAnother(outputPending: 0) { taken += 1 }
    let elapsed = monotonicNanoseconds() - start
    XCTAssertGreaterThan(taken, 1)
    XCTAssertGreaterThanOrEqual(elapsed, 2_000_000, "the pass ended before its time share")
    XCTAssertLessThan(elapsed, 1_000_000_000, "the pass ran on past its time share")
  }
}
