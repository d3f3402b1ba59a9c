import XCTest

@testable import Reactor

#if canImport(Glibc)
  import Glibc
#endif

final class EventLoopTests: XCTestCase {
  /// A one-loop group, running.
  func startedLoop() throws -> (EventLoopGroup, EventLoop) {
    let group = try EventLoopGroup(threads: 1)
    try group.start()
    return (group, group.loops[0])
  }

  func stop(_ group: EventLoopGroup) {
    group.stop()
    group.wait()
  }

  func testTimersFireInDeadlineOrderAndCancelledOnesDoNot() throws {
    let (group, loop) = try startedLoop()
    defer { stop(group) }
    let fired = expectation(description: "timers")
    let order = LockedArray()
    loop.execute {
      loop.schedule(afterNanoseconds: 30_000_000) { order.append(3) }
      loop.schedule(afterNanoseconds: 10_000_000) { order.append(1) }
      let cancelled = loop.schedule(afterNanoseconds: 15_000_000) { order.append(99) }
      loop.schedule(afterNanoseconds: 20_000_000) { order.append(2) }
      loop.cancel(cancelled)
      loop.schedule(afterNanoseconds: 40_000_000) { fired.fulfill() }
    }
    wait(for: [fired], timeout: 5)
    XCTAssertEqual(order.values, [1, 2, 3])
  }

  func testExecuteFromManyThreadsRunsEverythingOnTheLoop() throws {
    let (group, loop) = try startedLoop()
    defer { stop(group) }
    let done = expectation(description: "all work ran")
    done.expectedFulfillmentCount = 400
    let offLoop = LockedArray()
    DispatchQueue.concurrentPerform(iterations: 4) { _ in
      for _ in 0..<100 {
        loop.execute {
          if !loop.inEventLoop { offLoop.append(1) }
          done.fulfill()
        }
      }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(offLoop.values, [])
    XCTAssertFalse(loop.inEventLoop)
  }

  func testEndOfBatchWorkRunsAfterTheBatchIncludingWorkItDefers() throws {
    let (group, loop) = try startedLoop()
    defer { stop(group) }
    let order = LockedArray()
    let done = expectation(description: "deferred work ran")
    loop.execute {
      loop.deferUntilEndOfBatch {
        order.append(2)
        loop.deferUntilEndOfBatch {
          order.append(3)
          done.fulfill()
        }
      }
      order.append(1)
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(order.values, [1, 2, 3])
  }

  /// A handler that closes another fd during a batch must not get that fd's stale event.
  func testEventsForAnFdClosedEarlierInTheBatchAreDropped() throws {
    let (group, loop) = try startedLoop()
    defer { stop(group) }
    var collected: [[Int32]] = []
    for _ in 0..<2 {
      var fds: [Int32] = [0, 0]
      XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
      collected.append(fds)
    }
    let pairs = collected
    let calls = LockedArray()
    let done = expectation(description: "batch handled")
    final class Closer: EventHandler {
      let action: () -> Void
      init(_ action: @escaping () -> Void) { self.action = action }
      func handleEvents(_ events: UInt32) { action() }
    }
    let first = pairs[0][0]
    let second = pairs[1][0]
    loop.execute {
      // Whichever runs first closes the other; the other must then never be called.
      try! loop.register(
        fd: first, events: EventMask.readable,
        handler: Closer {
          calls.append(Int(first))
          loop.unregister(fd: first)
          loop.unregister(fd: second)
          close(second)
        })
      try! loop.register(
        fd: second, events: EventMask.readable,
        handler: Closer {
          calls.append(Int(second))
          loop.unregister(fd: second)
          loop.unregister(fd: first)
          close(first)
        })
      _ = write(pairs[0][1], "x", 1)
      _ = write(pairs[1][1], "x", 1)
      loop.schedule(afterNanoseconds: 50_000_000) { done.fulfill() }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(calls.values.count, 1)
    for fds in pairs { close(fds[1]) }
  }
}

/// An array safe to append to from loop threads and read from the test.
final class LockedArray: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [Int] = []
  func append(_ value: Int) { lock.withLock { storage.append(value) } }
  var values: [Int] { lock.withLock { storage } }
}
