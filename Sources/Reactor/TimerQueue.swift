/// Identifies a scheduled timer so that it can be cancelled.
public struct TimerID: Hashable, Sendable {
  let raw: UInt64
}

/// A min-heap of deadlines with lazily deleted cancellations, owned by one EventLoop.
///
/// Cancelling removes the callback from the table; its heap entry is skipped when it surfaces.
/// Schedule and fire are O(log n); the server's per-connection timeouts do not use it (they are
/// swept once a second), so it only holds client timeouts and handler-scheduled work.
struct TimerQueue {
  private var heap: [(deadline: UInt64, id: UInt64)] = []
  private var callbacks: [UInt64: () -> Void] = [:]
  private var nextID: UInt64 = 1

  var isEmpty: Bool { callbacks.isEmpty }

  /// The earliest deadline that is still scheduled, dropping cancelled entries on the way.
  mutating func earliestDeadline() -> UInt64? {
    while let top = heap.first {
      if callbacks[top.id] != nil { return top.deadline }
      popTop()
    }
    return nil
  }

  mutating func schedule(at deadline: UInt64, _ body: @escaping () -> Void) -> TimerID {
    let id = nextID
    nextID &+= 1
    callbacks[id] = body
    heap.append((deadline, id))
    siftUp(heap.count - 1)
    return TimerID(raw: id)
  }

  mutating func cancel(_ timer: TimerID) {
    callbacks[timer.raw] = nil
  }

  /// Removes and returns the callbacks due at `now`, earliest first.
  mutating func popDue(now: UInt64) -> [() -> Void] {
    var due: [() -> Void] = []
    while let top = heap.first, top.deadline <= now {
      popTop()
      if let body = callbacks.removeValue(forKey: top.id) { due.append(body) }
    }
    return due
  }

  private mutating func popTop() {
    let last = heap.removeLast()
    if !heap.isEmpty {
      heap[0] = last
      siftDown(0)
    }
  }

  private mutating func siftUp(_ start: Int) {
    var child = start
    while child > 0 {
      let parent = (child - 1) / 2
      if heap[parent].deadline <= heap[child].deadline { return }
      heap.swapAt(parent, child)
      child = parent
    }
  }

  private mutating func siftDown(_ start: Int) {
    var parent = start
    while true {
      let left = parent * 2 + 1
      if left >= heap.count { return }
      var smallest = left
      let right = left + 1
      if right < heap.count && heap[right].deadline < heap[left].deadline { smallest = right }
      if heap[parent].deadline <= heap[smallest].deadline { return }
      heap.swapAt(parent, smallest)
      parent = smallest
    }
  }
}
