import CLinux

#if canImport(Glibc)
  import Glibc
#endif

/// Delivers signals as loop events through signalfd.
///
/// Call `SignalWatcher.blockShutdownSignals()` on the main thread before any loop thread starts,
/// so every thread inherits the block and the signals are only ever delivered through the fd.
public final class SignalWatcher: EventHandler {
  private let loop: EventLoop
  private let fd: Int32
  private let handler: (Int32) -> Void

  /// Blocks SIGTERM and SIGINT in the calling thread and the threads it creates later.
  public static func blockShutdownSignals() {
    _ = cl_block_signal(SIGTERM)
    _ = cl_block_signal(SIGINT)
    _ = cl_block_signal(SIGHUP)
  }

  /// Watches `signals` on `loop` (call on the loop's thread); `handler` gets each signal number.
  public init(loop: EventLoop, signals: [Int32], handler: @escaping (Int32) -> Void) throws {
    self.loop = loop
    self.handler = handler
    fd = (signals + [0]).withUnsafeBufferPointer { cl_signalfd_for($0.baseAddress) }
    guard fd >= 0 else { throw SystemError("signalfd") }
    try loop.register(fd: fd, events: EventMask.readable, handler: self)
  }

  public func handleEvents(_ events: UInt32) {
    let signal = cl_signalfd_read(fd)
    if signal > 0 { handler(Int32(signal)) }
  }

  /// Stops watching and closes the signalfd.
  public func cancel() {
    loop.unregister(fd: fd)
    close(fd)
  }
}
