import CLinux
import Logging
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Something registered with an `EventLoop` that is told when its file descriptor is ready.
public protocol EventHandler: AnyObject {
  /// Called on the loop's thread with the epoll event mask (`EventMask`).
  func handleEvents(_ events: UInt32)
}

/// epoll event bits, as plain `UInt32`s.
public enum EventMask {
  public static let readable = CL_EPOLLIN
  public static let writable = CL_EPOLLOUT
  public static let error = CL_EPOLLERR
  public static let hangUp = CL_EPOLLHUP
  public static let readHangUp = CL_EPOLLRDHUP
}

/// A single-threaded reactor on epoll, in the manner of Redis's `ae`: file events, timers, and
/// work handed over from other threads. Everything but `execute`, `stop` and `inEventLoop` must be
/// called on the loop's own thread.
///
/// Registrations are level-triggered (hiredis needs that, and it keeps every handler simple).
/// Each registration carries an id next to its fd in the epoll data word, so an event for a
/// closed fd that a later accept reused within the same batch is recognised and dropped.
public final class EventLoop: @unchecked Sendable {
  private struct Registration {
    var id: UInt32 = 0
    var handler: EventHandler? = nil
  }

  /// The loop's position in its group (0-based).
  public let index: Int
  private let epollFD: Int32
  private let wakeFD: Int32
  private let timerFD: Int32
  private var registrations: [Registration] = []
  private var nextRegistrationID: UInt32 = 1
  private var eventBuffer: UnsafeMutablePointer<epoll_event>
  private var eventCapacity = 64
  private var timers = TimerQueue()
  private var armedDeadline: UInt64 = 0
  private let inbox = Mutex<[@Sendable () -> Void]>([])
  private var endOfBatch: [() -> Void] = []
  private let threadID = Atomic<UInt>(0)
  private var running = false
  private let stopRequested = Atomic<Bool>(false)

  /// Monotonic nanoseconds, refreshed once per wake-up: cheap "now" for timeouts and sweeps.
  public private(set) var now: UInt64

  public init(index: Int = 0) throws {
    self.index = index
    epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard epollFD >= 0 else { throw SystemError("epoll_create1") }
    wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard wakeFD >= 0 else { throw SystemError("eventfd") }
    timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
    guard timerFD >= 0 else { throw SystemError("timerfd_create") }
    eventBuffer = .allocate(capacity: eventCapacity)
    now = monotonicNanoseconds()
    // The wake and timer fds use registration id 0, which no handler ever gets.
    guard cl_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, CL_EPOLLIN, UInt64(UInt32(wakeFD))) == 0,
      cl_epoll_ctl(epollFD, EPOLL_CTL_ADD, timerFD, CL_EPOLLIN, UInt64(UInt32(timerFD))) == 0
    else { throw SystemError("epoll_ctl(ADD)") }
  }

  deinit {
    close(epollFD)
    close(wakeFD)
    close(timerFD)
    eventBuffer.deallocate()
  }

  // MARK: File events

  /// Starts watching `fd` for `events`; the handler is held strongly until `unregister`.
  public func register(fd: Int32, events: UInt32, handler: EventHandler) throws {
    let index = Int(fd)
    if index >= registrations.count {
      registrations.append(
        contentsOf: repeatElement(Registration(), count: max(index + 1, registrations.count * 2) - registrations.count))
    }
    var id = nextRegistrationID
    nextRegistrationID &+= 1
    if id == 0 {
      id = 1
      nextRegistrationID = 2
    }
    guard cl_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, events, UInt64(id) << 32 | UInt64(UInt32(fd))) == 0
    else { throw SystemError("epoll_ctl(ADD, \(fd))") }
    registrations[index] = Registration(id: id, handler: handler)
  }

  /// Changes the events watched for a registered fd.
  public func modify(fd: Int32, events: UInt32) {
    let index = Int(fd)
    guard index < registrations.count, registrations[index].id != 0 else { return }
    let data = UInt64(registrations[index].id) << 32 | UInt64(UInt32(fd))
    _ = cl_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, events, data)
  }

  /// Stops watching `fd` and releases its handler. Call before closing the fd.
  public func unregister(fd: Int32) {
    let index = Int(fd)
    guard index < registrations.count, registrations[index].id != 0 else { return }
    _ = cl_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0, 0)
    registrations[index] = Registration()
  }

  // MARK: Timers

  /// Runs `body` on this loop once `nanoseconds` have passed.
  @discardableResult
  public func schedule(afterNanoseconds nanoseconds: UInt64, _ body: @escaping () -> Void) -> TimerID {
    schedule(atDeadline: monotonicNanoseconds() &+ nanoseconds, body)
  }

  /// Runs `body` on this loop at the monotonic deadline (nanoseconds).
  @discardableResult
  public func schedule(atDeadline deadline: UInt64, _ body: @escaping () -> Void) -> TimerID {
    let id = timers.schedule(at: deadline, body)
    if armedDeadline == 0 || deadline < armedDeadline { arm(deadline) }
    return id
  }

  /// Cancels a timer; a timer that already fired or was cancelled is ignored.
  public func cancel(_ timer: TimerID) {
    timers.cancel(timer)
  }

  private func arm(_ deadline: UInt64) {
    armedDeadline = deadline
    _ = cl_timerfd_arm(timerFD, max(deadline, 1))
  }

  private func fireTimers() {
    var expirations: UInt64 = 0
    _ = read(timerFD, &expirations, 8)  // exactly 8 bytes, or EINVAL
    armedDeadline = 0
    now = monotonicNanoseconds()
    for body in timers.popDue(now: now) { body() }
    if let next = timers.earliestDeadline() { arm(next) }
  }

  /// Runs `body` on this loop once every event of the current epoll batch has been handled
  /// (before the next wait). Clients use it to coalesce the writes a batch of requests causes
  /// into one write per socket, without an EPOLLOUT round trip. Loop thread only.
  public func deferUntilEndOfBatch(_ body: @escaping () -> Void) {
    endOfBatch.append(body)
  }

  private func runEndOfBatch() {
    var index = 0
    while index < endOfBatch.count {  // work deferred by deferred work runs too
      endOfBatch[index]()
      index += 1
    }
    endOfBatch.removeAll(keepingCapacity: true)
  }

  // MARK: Cross-thread work

  /// True when called on this loop's thread.
  public var inEventLoop: Bool {
    threadID.load(ordering: .relaxed) == UInt(pthread_self())
  }

  /// Runs `work` on the loop's thread, soon. Safe from any thread.
  public func execute(_ work: @escaping @Sendable () -> Void) {
    let wasEmpty = inbox.withLock { queue -> Bool in
      queue.append(work)
      return queue.count == 1
    }
    if wasEmpty { wake() }
  }

  private func wake() {
    var one: UInt64 = 1
    _ = write(wakeFD, &one, 8)
  }

  private func runInbox() {
    var value: UInt64 = 0
    _ = read(wakeFD, &value, 8)
    let work = inbox.withLock { queue -> [@Sendable () -> Void] in
      let taken = queue
      queue.removeAll(keepingCapacity: true)
      return taken
    }
    for body in work { body() }
  }

  // MARK: Running

  /// Runs the loop on the calling thread until `stop()`.
  public func run() {
    threadID.store(UInt(pthread_self()), ordering: .relaxed)
    running = true
    while !stopRequested.load(ordering: .relaxed) {
      let count = epoll_wait(epollFD, eventBuffer, Int32(eventCapacity), -1)
      if count < 0 {
        if errno == EINTR { continue }
        reactorLogger.critical("epoll_wait failed; the loop stops", metadata: ["error": "\(SystemError("epoll_wait"))"])
        break
      }
      now = monotonicNanoseconds()
      for slot in 0..<Int(count) {
        let event = eventBuffer + slot
        let data = cl_epoll_event_data(event)
        let mask = cl_epoll_event_mask(event)
        let fd = Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: data))
        let id = UInt32(truncatingIfNeeded: data >> 32)
        if id == 0 {
          if fd == wakeFD { runInbox() } else if fd == timerFD { fireTimers() }
          continue
        }
        let index = Int(fd)
        guard index < registrations.count, registrations[index].id == id,
          let handler = registrations[index].handler
        else { continue }  // stale: the fd was closed (and maybe reused) earlier in this batch
        handler.handleEvents(mask)
      }
      if !endOfBatch.isEmpty { runEndOfBatch() }
      if Int(count) == eventCapacity { growEventBuffer() }
    }
    running = false
  }

  private func growEventBuffer() {
    eventBuffer.deallocate()
    eventCapacity *= 2
    eventBuffer = .allocate(capacity: eventCapacity)
  }

  /// Asks the loop to return from `run()` after the current batch. Safe from any thread.
  public func stop() {
    stopRequested.store(true, ordering: .relaxed)
    wake()
  }
}
