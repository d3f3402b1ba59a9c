#if canImport(Glibc)
  import Glibc
#endif

/// A connection's unread input: bytes read from the socket and not yet consumed by the protocol,
/// in one contiguous buffer so parsers can work on it in place.
///
/// It starts small, doubles up to a ceiling the protocol sets (what the longest valid request
/// head needs: a body never accumulates here, it moves into the request as it arrives) and
/// shrinks back to its starting size whenever it runs empty, so a connection that once received
/// one large head does not keep that memory for the rest of its life.
struct InputBuffer: ~Copyable {
  /// The size a buffer starts at and shrinks back to.
  static let initialCapacity = 4096

  private var storage: UnsafeMutablePointer<UInt8>
  private(set) var capacity: Int
  private var start = 0
  private var end = 0

  init() {
    capacity = InputBuffer.initialCapacity
    storage = .allocate(capacity: capacity)
  }

  deinit { storage.deallocate() }

  /// Bytes held and not yet consumed.
  var count: Int { end - start }
  var isEmpty: Bool { start == end }

  /// The unconsumed bytes, valid until the buffer is next changed.
  var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage + start, count: end - start) }

  /// Marks `count` bytes at the front as used.
  mutating func consume(_ count: Int) {
    start += count
    if start == end { reset() }
  }

  /// Drops everything held (and gives back any grown memory).
  mutating func reset() {
    start = 0
    end = 0
    if capacity > InputBuffer.initialCapacity {
      storage.deallocate()
      capacity = InputBuffer.initialCapacity
      storage = .allocate(capacity: capacity)
    }
  }

  /// Makes room at the end: first by moving the unconsumed bytes to the front, then by doubling,
  /// never beyond `ceiling`. Returns false when the buffer is full at the ceiling.
  mutating func makeRoom(ceiling: Int) -> Bool {
    if end < capacity { return true }
    if start > 0 {
      let live = end - start
      if live > 0 { storage.update(from: storage + start, count: live) }
      start = 0
      end = live
      return true
    }
    guard capacity < ceiling else { return false }
    let newCapacity = min(capacity * 2, max(ceiling, InputBuffer.initialCapacity))
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    grown.update(from: storage, count: end)
    storage.deallocate()
    storage = grown
    capacity = newCapacity
    return true
  }

  /// One read(2) into the free space at the end; returns what read returned.
  mutating func read(from fd: Int32) -> Int {
    let count = Glibc.read(fd, storage + end, capacity - end)
    if count > 0 { end += count }
    return count
  }

  /// Appends bytes (tests and protocol hand-over).
  mutating func append(_ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
      _ = makeRoom(ceiling: Int.max)
      let take = min(bytes.count - offset, capacity - end)
      (storage + end).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, count: take)
      end += take
      offset += take
    }
  }
}
