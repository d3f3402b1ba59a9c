#if canImport(Glibc)
  import Glibc
#endif

/// Runs `body` on a new detached thread (for blocking work that has no place on a loop, such as
/// a listener that sleeps in `poll`).
public func startBackgroundThread(_ body: @escaping @Sendable () -> Void) throws {
  var thread = pthread_t()
  let context = Unmanaged.passRetained(BackgroundWork(body)).toOpaque()
  let rc = pthread_create(&thread, nil, backgroundThreadMain, context)
  guard rc == 0 else {
    Unmanaged<BackgroundWork>.fromOpaque(context).release()
    throw SystemError("pthread_create", code: rc)
  }
  pthread_detach(thread)
}

private final class BackgroundWork {
  let body: @Sendable () -> Void
  init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// A nonisolated global function, like `eventLoopThreadMain`.
private func backgroundThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
  guard let context else { return nil }
  Unmanaged<BackgroundWork>.fromOpaque(context).takeRetainedValue().body()
  return nil
}
