import Atomics

/// A fixed number of relaxed atomic counters in one allocation: a loop's metrics, which only
/// that loop writes and `/metrics` reads from any thread. `block[i]` has `ManagedAtomic`'s
/// operations (`wrappingIncrement`, `load`).
///
/// Why not `[ManagedAtomic<Int>]`: each element is an object, and reading one out of the array
/// retains and then releases it, ~40 instructions a counter under callgrind, five or six
/// counters a request.
final class CounterBlock: @unchecked Sendable {
  private let storage: UnsafeMutablePointer<UnsafeAtomic<Int>.Storage>
  let count: Int

  init(count: Int) {
    self.count = count
    storage = .allocate(capacity: Swift.max(count, 1))
    storage.initialize(repeating: UnsafeAtomic<Int>.Storage(0), count: count)
  }

  deinit {
    storage.deinitialize(count: count)
    storage.deallocate()
  }

  /// The counter at `index` (0..<count).
  @inline(__always)
  subscript(index: Int) -> UnsafeAtomic<Int> {
    precondition(index >= 0 && index < count, "counter \(index) out of 0..<\(count)")
    return UnsafeAtomic(at: storage + index)
  }
}
