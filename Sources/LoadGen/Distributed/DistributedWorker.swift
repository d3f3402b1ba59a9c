import Dispatch
import Foundation
import Reactor

#if canImport(Glibc)
  import Glibc
#endif

/// `loadgen --worker`: joins a master, runs the share of the load it is given with the same
/// `LoadRunner` a single process uses, and reports every second's measurements (deltas, with
/// their histograms) to the master, then a final report after the drain.
public final class DistributedWorker: @unchecked Sendable {
  /// How the worker's part ended.
  public enum Outcome: Sendable, Equatable {
    /// Ran and reported everything.
    case finished(requests: Int)
    /// The master refused it at join; the reason is the master's.
    case refused(String)
    /// The master went away (or stopped the run) before the end.
    case masterLost(String)
  }

  let options: WorkerOptions
  private let group: EventLoopGroup
  private var loop: EventLoop { group.loops[0] }
  private let events = DispatchSemaphore(value: 0)
  private let lock = NSLock()
  private var connection: FrameConnection?
  private var start: WireMessage.Start?
  private var ended: String?
  private var refusal: String?
  private var runner: LoadRunner?
  /// What this worker measured itself (its share of the run), once it has run.
  public private(set) var localResult: LoadResult?

  public init(options: WorkerOptions) throws {
    self.options = options
    group = try EventLoopGroup(threads: 1)
  }

  /// The worker's name in the master's report: host and process id.
  public static var name: String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count)
    return "\(cString(buffer)):\(getpid())"
  }

  /// Connects (retrying until the connect timeout), waits for the start, runs, reports.
  /// Errors: the master cannot be reached, or the scenario or target it sent cannot be used.
  public func run(log: @escaping @Sendable (String) -> Void = { _ in }) throws -> Outcome {
    try group.start()
    defer {
      group.stop()
      group.wait()
    }
    let masterAddress: SocketAddress
    do {
      masterAddress = try SocketAddress(
        host: try HostResolution.numericAddress(of: options.masterHost, preferIPv4: true), port: options.masterPort)
    } catch {
      throw DistributedError("--master-host '\(options.masterHost)': \(error)")
    }
    let deadline = monotonicNanoseconds() + nanoseconds(fromSeconds: options.connectTimeout)
    var lastError = ""
    while true {
      lock.withLock {
        ended = nil
        start = nil
      }
      connect(to: masterAddress)
      events.wait()
      let (gotStart, why, refused) = lock.withLock { (start, ended, refusal) }
      if let refused { return .refused(refused) }
      if let gotStart { return try runShare(gotStart, log: log) }
      lastError = why ?? "connection closed"
      // Not there yet (the master may start after its workers): try again shortly.
      guard monotonicNanoseconds() < deadline, why?.hasPrefix("cannot connect") == true else { break }
      usleep(500_000)
    }
    throw DistributedError(
      "cannot join the master at \(masterAddress): \(lastError) (tried for \(options.connectTimeout) s)")
  }

  private func connect(to address: SocketAddress) {
    _ = loop.execute { [self] in
      let connection: FrameConnection
      do {
        connection = try FrameConnection.connect(
          loop: loop, address: address, peer: "\(address)", maximumFrameBytes: options.maximumFrameBytes)
      } catch {
        lock.withLock { ended = "cannot connect: \(error)" }
        events.signal()
        return
      }
      self.connection = connection
      connection.onConnected = { [unowned connection, options] in
        connection.send(
          .hello(
            WireMessage.Hello(
              protocolVersion: distributedProtocolVersion, version: loadgenVersion, name: Self.name,
              threads: options.threads, scenarioFingerprint: options.scenario?.fingerprint)))
      }
      connection.onMessage = { [unowned self] message in
        switch message {
        case .refuse(let reason):
          lock.withLock { refusal = reason }
          events.signal()
        case .start(let start):
          let first = lock.withLock {
            let first = self.start == nil
            self.start = start
            return first
          }
          if first { events.signal() }
        case .stop:
          stopRun("the master stopped the run")
        case .hello, .report:
          self.connection?.close(reason: "the master sent an unexpected message")
        }
      }
      connection.onClose = { [unowned self] reason in
        let (waiting, running) = lock.withLock { () -> (Bool, Bool) in
          let waiting = start == nil && refusal == nil
          if ended == nil { ended = reason }
          return (waiting, runner != nil)
        }
        if waiting { events.signal() }
        if running { stopRun(reason) }
      }
    }
  }

  private func stopRun(_ reason: String) {
    let runner = lock.withLock {
      if ended == nil { ended = reason }
      return self.runner
    }
    runner?.requestStop()
  }

  private func runShare(_ start: WireMessage.Start, log: @Sendable (String) -> Void) throws -> Outcome {
    let scenario: Scenario
    let target: LoadTarget
    do {
      if let invalidity = start.invalidity { throw ScenarioError("the start message's \(invalidity)") }
      scenario = try start.scenario.load()
      target = try LoadTarget(url: start.host)
    } catch {
      closeConnection()
      throw DistributedError("cannot run the master's load: \(error)")
    }
    var load = LoadOptions(address: target.address, port: target.port, hostHeader: target.hostHeader)
    load.users = start.users
    load.spawnRate = start.spawnRate
    load.rate = start.rate
    load.runTime = start.runTime
    load.stopTimeout = start.stopTimeout
    load.requestTimeout = start.requestTimeout
    load.http2 = start.http2
    load.streamsPerConnection = start.streamsPerConnection
    load.firstUserID = start.firstUserID
    load.threads = options.threads
    let runner = try LoadRunner(scenario: scenario, options: load)
    let alreadyEnded = lock.withLock {
      self.runner = runner
      return ended != nil
    }
    if alreadyEnded { runner.requestStop() }
    log(
      "running \(start.users) \(start.rate == nil ? "users" : "connections")\(start.rate.map { " at \($0) requests/s" } ?? "") for \(start.runTime) s"
    )
    usleep(UInt32(start.startDelay * 1e6))  // 0...10 s, checked above
    var requests = 0
    let result = try runner.run(intervals: { [self] interval in
      requests += interval.statistics.total.requests
      let report = WireMessage.report(
        WireMessage.Report(
          second: interval.second, timestamp: interval.timestamp, users: interval.users,
          statistics: WireLoadStatistics(interval.statistics), isFinal: interval.isFinal,
          duration: nil))
      let isFinal = interval.isFinal
      _ = loop.execute { [self] in
        connection?.send(report)
        // The master closes as soon as it has every worker's final report, maybe before this
        // worker closes itself: from here a close is the normal end, not a lost master.
        if isFinal { connection?.onClose = { _ in } }
      }
    })
    lock.withLock { localResult = result }
    closeConnection()
    if let lost = lock.withLock({ ended }) { return .masterLost(lost) }
    return .finished(requests: requests)
  }

  /// Sends what is queued (the final report), then closes.
  private func closeConnection() {
    let closed = DispatchSemaphore(value: 0)
    _ = loop.execute { [self] in
      if let connection, !connection.isClosed {
        connection.onClose = { _ in }
        connection.closeAfterFlush(reason: "done")
      }
      closed.signal()
    }
    closed.wait()
  }
}
