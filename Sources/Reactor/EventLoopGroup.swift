import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A fixed set of event loops, one thread each: one per core by default.
public final class EventLoopGroup: Sendable {
  /// The loops, indexed by `EventLoop.index`.
  public let loops: [EventLoop]
  private let threads = Mutex<[pthread_t]>([])
  private let roundRobin = Atomic<Int>(0)

  /// The number of cores this process may run on.
  public static var coreCount: Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
  }

  public init(threads count: Int = EventLoopGroup.coreCount) throws {
    precondition(count >= 1, "an EventLoopGroup needs at least one loop")
    loops = try (0..<count).map { try EventLoop(index: $0) }
  }

  /// The next loop in round-robin order, for work that has no affinity.
  public func next() -> EventLoop {
    let position = roundRobin.add(1, ordering: .relaxed).oldValue
    return loops[position % loops.count]
  }

  /// Starts one thread per loop; returns at once. Starting a started group does nothing.
  public func start() throws {
    try threads.withLock { threads in
      guard threads.isEmpty else { return }
      for loop in loops {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(loop).toOpaque()
        let rc = pthread_create(&thread, nil, eventLoopThreadMain, context)
        guard rc == 0 else {
          Unmanaged<EventLoop>.fromOpaque(context).release()
          throw SystemError("pthread_create", code: rc)
        }
        threads.append(thread)
      }
    }
  }

  /// Stops every loop; safe from any thread.
  public func stop() {
    for loop in loops { loop.stop() }
  }

  /// Waits for every loop thread to return.
  public func wait() {
    let started = threads.withLock { threads -> [pthread_t] in
      let all = threads
      threads.removeAll()
      return all
    }
    for thread in started { pthread_join(thread, nil) }
  }
}

/// Thread entry for a loop: a nonisolated global function (a closure literal here would be
/// inferred @MainActor inside `@main` and trap on the worker thread).
private func eventLoopThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  guard let context else { return nil }
  let loop = Unmanaged<EventLoop>.fromOpaque(context).takeRetainedValue()
  loop.run()
  return nil
}
