import XCTest

@testable import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// What the reactor promises its handlers: refused (not lost) work after a stop, events masked
/// with the interest still registered, and work deferred to the next pass.
final class EventLoopContractTests: XCTestCase {
  final class Handler: EventHandler {
    let action: (UInt32) -> Void
    init(_ action: @escaping (UInt32) -> Void) { self.action = action }
    func handleEvents(_ events: UInt32) { action(events) }
  }

  func testExecuteAfterTheLoopStoppedIsRefusedNotSilentlyDropped() throws {
    let group = try EventLoopGroup(threads: 1)
    try group.start()
    let loop = group.loops[0]
    let ran = LockedArray()
    XCTAssertTrue(loop.execute { ran.append(1) })
    group.stop()
    group.wait()
    XCTAssertFalse(loop.isRunning)
    XCTAssertFalse(loop.execute { ran.append(2) }, "a stopped loop must refuse work")
    XCTAssertEqual(ran.values, [1])
  }

  /// As ae does: a handler that removed another fd's read interest earlier in the batch must not
  /// be followed by that fd's readable event of the same batch.
  func testAnEventIsMaskedWithTheInterestStillRegistered() throws {
    let group = try EventLoopGroup(threads: 1)
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    let loop = group.loops[0]
    var pairs: [[Int32]] = []
    for _ in 0..<2 {
      var fds: [Int32] = [0, 0]
      XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
      pairs.append(fds)
    }
    defer {
      for pair in pairs {
        close(pair[0])
        close(pair[1])
      }
    }
    let calls = LockedArray()
    let done = expectation(description: "batch handled")
    let first = pairs[0][0]
    let second = pairs[1][0]
    let writers = (pairs[0][1], pairs[1][1])
    loop.execute {
      // Whichever is handled first stops reading both.
      try! loop.register(
        fd: first, events: EventMask.readable,
        handler: Handler { _ in
          calls.append(Int(first))
          loop.modify(fd: first, events: 0)
          loop.modify(fd: second, events: 0)
        })
      try! loop.register(
        fd: second, events: EventMask.readable,
        handler: Handler { _ in
          calls.append(Int(second))
          loop.modify(fd: first, events: 0)
          loop.modify(fd: second, events: 0)
        })
      _ = write(writers.0, "x", 1)
      _ = write(writers.1, "x", 1)
      loop.schedule(afterNanoseconds: 50_000_000) {
        loop.unregister(fd: first)
        loop.unregister(fd: second)
        done.fulfill()
      }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(calls.values.count, 1, "\(calls.values)")
  }

  /// Work deferred to the next pass runs after the events that pass brings.
  func testWorkDeferredToTheNextPassRunsAfterThatPassesEvents() throws {
    let group = try EventLoopGroup(threads: 1)
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    let loop = group.loops[0]
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
    defer {
      close(fds[0])
      close(fds[1])
    }
    let order = LockedArray()
    let done = expectation(description: "deferred work ran")
    let reader = fds[0]
    let writer = fds[1]
    loop.execute {
      try! loop.register(
        fd: reader, events: EventMask.readable,
        handler: Handler { _ in
          var byte: UInt8 = 0
          _ = read(reader, &byte, 1)
          order.append(1)
        })
      _ = write(writer, "x", 1)  // readable in the next wait
      loop.deferToNextPass {
        order.append(2)
        loop.unregister(fd: reader)
        done.fulfill()
      }
    }
    wait(for: [done], timeout: 5)
    XCTAssertEqual(order.values, [1, 2])
  }
}
