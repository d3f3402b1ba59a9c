#if canImport(Glibc)
  import Glibc
#endif

/// A connection's unsent response bytes, in order. Heads and small bodies are copied into an open
/// buffer (many pipelined responses then leave in one write); bodies of `largeBodyBytes` or more
/// are queued by reference, without a copy. `write(to:)` gathers everything with writev(2).
struct OutputQueue {
  /// Bodies at least this large are queued by reference instead of copied.
  static let largeBodyBytes = 16 * 1024
  /// At most this many segments go into one writev.
  static let maxVectors = 16

  enum WriteResult {
    /// Everything was written.
    case drained
    /// The socket buffer is full: wait for writability.
    case blocked
    /// The peer is gone (or another write error): close.
    case failed
  }

  private var segments: [[UInt8]] = [[]]
  private var firstSegmentSent = 0
  /// Bytes queued and not yet written.
  private(set) var pendingBytes = 0

  var isEmpty: Bool { pendingBytes == 0 }

  /// Appends bytes through `body`, which writes into the open buffer.
  mutating func appendInPlace(_ body: (inout [UInt8]) -> Void) {
    let last = segments.count - 1
    let before = segments[last].count
    body(&segments[last])
    pendingBytes += segments[last].count - before
  }

  /// Appends `bytes`: copied when small, queued by reference when large.
  mutating func append(_ bytes: [UInt8]) {
    guard !bytes.isEmpty else { return }
    if bytes.count < OutputQueue.largeBodyBytes {
      appendInPlace { $0.append(contentsOf: bytes) }
      return
    }
    if segments[segments.count - 1].isEmpty {
      segments[segments.count - 1] = bytes
    } else {
      segments.append(bytes)
    }
    segments.append([])
    pendingBytes += bytes.count
  }

  /// Writes as much as the socket accepts.
  mutating func write(to fd: Int32) -> WriteResult {
    while pendingBytes > 0 {
      let written = withUnsafeTemporaryAllocation(of: iovec.self, capacity: OutputQueue.maxVectors) { vectors in
        gather(from: 0, into: vectors.baseAddress!, count: 0, fd: fd)
      }
      if written > 0 {
        consume(written)
        continue
      }
      let code = errno
      if written < 0 && code == EINTR { continue }
      return written < 0 && code == EAGAIN ? .blocked : .failed
    }
    // Keep the open buffer's capacity for the next batch unless one response made it huge.
    if segments.count > 1 || segments[0].capacity > 256 * 1024 {
      segments = [[]]
    } else {
      segments[0].removeAll(keepingCapacity: true)
    }
    firstSegmentSent = 0
    return .drained
  }

  /// Fills iovecs from the segments (each borrowed by a nested closure, so every pointer stays
  /// valid for the call), then writes them all with one writev.
  private func gather(from index: Int, into vectors: UnsafeMutablePointer<iovec>, count: Int, fd: Int32) -> Int {
    if index == segments.count || count == OutputQueue.maxVectors {
      return Glibc.writev(fd, vectors, Int32(count))
    }
    let skip = index == 0 ? firstSegmentSent : 0
    if segments[index].count - skip == 0 {
      return gather(from: index + 1, into: vectors, count: count, fd: fd)
    }
    return segments[index].withUnsafeBytes { raw in
      vectors[count] = iovec(
        iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress! + skip), iov_len: raw.count - skip)
      return gather(from: index + 1, into: vectors, count: count + 1, fd: fd)
    }
  }

  private mutating func consume(_ written: Int) {
    pendingBytes -= written
    var remaining = written
    while remaining > 0 {
      let available = segments[0].count - firstSegmentSent
      if remaining < available {
        firstSegmentSent += remaining
        return
      }
      remaining -= available
      firstSegmentSent = 0
      if segments.count > 1 {
        segments.removeFirst()
      } else {
        segments[0].removeAll(keepingCapacity: true)
      }
    }
    // Drop fully written segments at the front that are empty (e.g. a drained open buffer).
    while segments.count > 1 && segments[0].count == firstSegmentSent {
      segments.removeFirst()
      firstSegmentSent = 0
    }
  }
}
