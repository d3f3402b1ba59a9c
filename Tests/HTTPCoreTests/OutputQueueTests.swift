import XCTest

@testable import HTTPCore

final class OutputQueueTests: XCTestCase {
  /// Small and large pieces, written through a socket that takes only part of them at a time,
  /// arrive complete and in order.
  func testPartialWritesKeepOrderAcrossCopiedAndReferencedSegments() throws {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
    defer { fds.forEach { close($0) } }
    var small: Int32 = 4096
    setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
    _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)

    var queue = OutputQueue()
    var expected: [UInt8] = []
    let pieces: [[UInt8]] = [
      Array("head one\r\n".utf8), [UInt8](repeating: 1, count: 100_000), Array("head two\r\n".utf8),
      Array("small body".utf8), [UInt8](repeating: 2, count: 40_000), [UInt8](repeating: 3, count: 20_000),
      Array("tail".utf8),
    ]
    for piece in pieces {
      queue.append(piece)
      expected += piece
    }
    XCTAssertEqual(queue.pendingBytes, expected.count)

    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    var blockedAtLeastOnce = false
    while true {
      let result = queue.write(to: fds[0])
      if case .failed = result { return XCTFail("write failed") }
      if case .blocked = result { blockedAtLeastOnce = true }
      let n = read(fds[1], &buffer, buffer.count)
      if n > 0 { received += buffer[0..<n] }
      if case .drained = result, received.count == expected.count { break }
      if n <= 0, case .drained = result { break }
    }
    XCTAssertTrue(blockedAtLeastOnce, "the test needs partial writes to mean anything")
    XCTAssertEqual(received.count, expected.count)
    XCTAssertTrue(received == expected, "bytes arrived out of order")
    XCTAssertTrue(queue.isEmpty)
  }

  func testWritingToAClosedPeerFails() {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
    close(fds[1])
    defer { close(fds[0]) }
    signal(SIGPIPE, SIG_IGN)
    var queue = OutputQueue()
    queue.append(Array("x".utf8))
    guard case .failed = queue.write(to: fds[0]) else { return XCTFail("expected failure") }
  }
}
