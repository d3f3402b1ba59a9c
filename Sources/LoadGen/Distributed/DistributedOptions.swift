/// How a distributed run is set up: the master's side. Defaults are Locust's where it has one.
public struct MasterOptions: Sendable {
  /// Address to listen on for workers (Locust's `--master-bind-host`; "*" is every address).
  public var bindHost = "*"
  /// Locust's `--master-bind-port`.
  public var bindPort = 5557
  /// Workers to wait for before starting (`--expect-workers`).
  public var expectWorkers = 1
  /// Give up when fewer have joined after this many seconds; nil waits forever (Locust's default).
  public var expectWorkersMaxWait: Double? = nil
  /// A worker silent for this long during the run is declared lost (it reports every second).
  public var heartbeatTimeout = 5.0
  /// The largest frame either side accepts (a report of many request names with wide
  /// histograms is the largest message).
  public var maximumFrameBytes = 16 * 1024 * 1024
  /// Workers start this long after the start message, so all of them begin together.
  public var startDelay = 0.5

  /// The target's base URL, as given to `--host`; workers resolve it.
  public var host: String
  public var scenario: ScenarioSource
  /// The whole fleet's load, split across workers: users (or open-loop connections), spawn
  /// rate and arrival rate; the rest is every worker's.
  public var load: LoadOptions

  public init(host: String, scenario: ScenarioSource, load: LoadOptions) {
    self.host = host
    self.scenario = scenario
    self.load = load
  }
}

/// The worker's side.
public struct WorkerOptions: Sendable {
  /// Locust's `--master-host` and `--master-port`.
  public var masterHost = "127.0.0.1"
  public var masterPort = 5557
  /// Keep trying to reach the master this long (it may start after the workers).
  public var connectTimeout = 60.0
  /// Load loops (threads) this worker runs.
  public var threads = 1
  /// The scenario this worker was started with, if any: it must be the master's.
  public var scenario: ScenarioSource? = nil
  public var maximumFrameBytes = 16 * 1024 * 1024

  public init() {}
}

/// One worker of a distributed run, for the report.
public struct WorkerSummary: Sendable {
  public var name: String
  public var address: String
  public var threads: Int
  /// Its share of the load: users (closed loop) or connections (open loop), and rate.
  public var users: Int
  public var rate: Double?
  public var requests: Int
  public var failures: Int
  /// Why and when (seconds into the run) it was lost; nil when it finished.
  public var lost: String?
}

/// A distributed run could not be set up (workers did not join, the port is taken, a worker
/// was refused): the message says which and why.
public struct DistributedError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
