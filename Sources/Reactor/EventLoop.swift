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
/// closed fd that a later accept reused within the same batch is recognised and dropped; and,
/// as ae does after each callback, an event is masked with the interest still registered, so a
/// handler that stopped reading earlier in the batch is not handed a stale readable event.
///
/// One pass of the loop: wait for events (not at all when work is queued for the next pass),
/// handle them, run the work deferred to the end of the batch, then the work queued for the next
/// pass. Handlers that have more to do than they should do at once (a connection with many
/// pipelined requests) queue the rest for the next pass, so every other ready fd is served in
/// between: no single peer holds the loop for longer than its per-pass share.
public final class EventLoop: @unchecked Sendable {
  private struct Registration {
    var id: UInt32 = 0
    var events: UInt32 = 0
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
  private var nextPass: [() -> Void] = []
  /// The work `nextPass` held when this pass began (swapped, so neither array reallocates).
  private var duePass: [() -> Void] = []
  private let threadID = Atomic<UInt>(0)
  /// 0 before `run`, 1 while running, 2 once it returned: `execute` refuses work after that.
  private let runState = Atomic<Int>(0)
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
    registrations[index] = Registration(id: id, events: events, handler: handler)
  }

  /// Changes the events watched for a registered fd. Fails only when the fd is no longer open
  /// (a caller bug); the failure is logged and the registration keeps its old interest.
  @discardableResult
  public func modify(fd: Int32, events: UInt32) -> Bool {
    let index = Int(fd)
    guard index < registrations.count, registrations[index].id != 0 else { return false }
    let data = UInt64(registrations[index].id) << 32 | UInt64(UInt32(fd))
    guard cl_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, events, data) == 0 else {
      reactorLogger.error("epoll_ctl(MOD) failed", metadata: ["fd": "\(fd)", "error": "\(SystemError("epoll_ctl"))"])
      return false
    }
    registrations[index].events = events
    return true
  }

  /// The events registered for `fd` (0 when it is not registered).
  public func interest(fd: Int32) -> UInt32 {
    let index = Int(fd)
    return index < registrations.count ? registrations[index].events : 0
  }

  /// Stops watching `fd` and releases its handler. Call before closing the fd.
  public func unregister(fd: Int32) {
    let index = Int(fd)
    guard index < registrations.count, registrations[index].id != 0 else { return }
    // ENOENT/EBADF here means the fd was closed first: the kernel already dropped it from the
    // interest list, so the registration is released all the same.
    if cl_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0, 0) != 0 && errno != ENOENT && errno != EBADF {
      reactorLogger.error("epoll_ctl(DEL) failed", metadata: ["fd": "\(fd)", "error": "\(SystemError("epoll_ctl"))"])
    }
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
    if cl_timerfd_arm(timerFD, max(deadline, 1)) != 0 {
      // Cannot happen with a valid fd and deadline; without the timer, timeouts would never
      // fire, so say so loudly.
      reactorLogger.critical("timerfd_settime failed", metadata: ["error": "\(SystemError("timerfd_settime"))"])
    }
  }

  private func fireTimers() {
    var expirations: UInt64 = 0
    _ = read(timerFD, &expirations, 8)  // exactly 8 bytes, or EINVAL; EAGAIN: a stale wake-up
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

  /// Runs `body` on this loop in its next pass, after the events that pass brings: the way a
  /// handler gives way to the other ready fds and comes back for the rest of its work. The next
  /// wait does not block while such work is queued. Loop thread only.
  public func deferToNextPass(_ body: @escaping () -> Void) {
    nextPass.append(body)
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

  /// True while `run()` has not returned: work handed to `execute` will run.
  public var isRunning: Bool { runState.load(ordering: .acquiring) < 2 }

  /// Runs `work` on the loop's thread, soon. Safe from any thread. Returns false (and drops the
  /// work) once the loop has stopped for good, so a caller waiting for the work can stop waiting.
  @discardableResult
  public func execute(_ work: @escaping @Sendable () -> Void) -> Bool {
    let accepted = inbox.withLock { queue -> (accepted: Bool, wasEmpty: Bool) in
      // Checked under the lock that `run` takes on its way out, so work is either run or refused.
      guard runState.load(ordering: .acquiring) < 2 else { return (false, false) }
      queue.append(work)
      return (true, queue.count == 1)
    }
    if accepted.wasEmpty { wake() }
    return accepted.accepted
  }

  private func wake() {
    var one: UInt64 = 1
    // EAGAIN means the counter is already non-zero: the loop will wake anyway.
    if write(wakeFD, &one, 8) < 0 && errno != EAGAIN {
      reactorLogger.error("eventfd write failed", metadata: ["error": "\(SystemError("write(eventfd)"))"])
    }
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
    runState.store(1, ordering: .releasing)
    while !stopRequested.load(ordering: .relaxed) {
      swap(&duePass, &nextPass)
      var count = epoll_wait(epollFD, eventBuffer, Int32(eventCapacity), duePass.isEmpty ? -1 : 0)
      if count < 0 {
        if errno != EINTR {
          reactorLogger.critical(
            "epoll_wait failed; the loop stops", metadata: ["error": "\(SystemError("epoll_wait"))"])
          break
        }
        count = 0
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
        // Errors and hang-ups are always reported; other bits only while still wanted.
        let wanted = mask & (registrations[index].events | EventMask.error | EventMask.hangUp)
        if wanted != 0 { handler.handleEvents(wanted) }
      }
      if !duePass.isEmpty {
        for body in duePass { body() }
        duePass.removeAll(keepingCapacity: true)
      }
      if !endOfBatch.isEmpty { runEndOfBatch() }
      if Int(count) == eventCapacity { growEventBuffer() }
    }
    // Refuse new work from now on, then run what was accepted before, so nothing handed to
    // `execute` is silently lost.
    let leftover = inbox.withLock { queue -> [@Sendable () -> Void] in
      runState.store(2, ordering: .releasing)
      let taken = queue
      queue.removeAll()
      return taken
    }
    for body in leftover { body() }
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
