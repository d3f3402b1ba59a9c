import Foundation

/// How a load run is shaped. Times are seconds.
public struct LoadOptions: Sendable {
  /// Numeric IPv4/IPv6 address and port of the target, and the Host header to send.
  public var address: String
  public var port: Int
  public var hostHeader: String
  public var users = 1
  /// Users started per second (closed loop).
  public var spawnRate = 1.0
  public var runTime = 30.0
  /// How long requests in flight may finish after the run time; then they are cancelled.
  public var stopTimeout = 0.0
  /// Open loop: requests per second at a constant arrival rate, over `users` connections.
  public var rate: Double? = nil
  public var threads = 1
  public var requestTimeout = 10.0
  /// Open loop: a request started later than this after its scheduled time counts as the
  /// generator falling behind.
  public var lateThreshold = 0.001
  /// HTTP/2 (h2c, prior knowledge): users share connections, `streamsPerConnection` each, and
  /// every request is a stream.
  public var http2 = false
  public var streamsPerConnection = 10
  /// The id of this process's first user (`{user}` in templates): a distributed worker's users
  /// continue the numbering of the workers before it, so no two users in the fleet share one.
  public var firstUserID = 0

  public init(address: String, port: Int, hostHeader: String) {
    self.address = address
    self.port = port
    self.hostHeader = hostHeader
  }
}

/// One second of the run, for the live line, `_stats_history.csv` and the HTML charts.
public struct HistoryPoint: Sendable {
  /// Epoch seconds.
  public var timestamp: Double
  public var users: Int
  public var requestsPerSecond: Double
  public var failuresPerSecond: Double
  /// Percentiles and maximum of this second's responses (ms).
  public var intervalP50: Double
  public var intervalP95: Double
  public var intervalP99: Double
  public var intervalMax: Double
  /// Everything so far (Locust's history rows report cumulative percentiles).
  public var cumulative: StatisticsSummary

  /// The point for one second whose responses are `interval` (all names together).
  public init(timestamp: Double, users: Int, interval: RequestStatistics, cumulative: RequestStatistics) {
    self.timestamp = timestamp
    self.users = users
    requestsPerSecond = Double(interval.requests)
    failuresPerSecond = Double(interval.failures)
    intervalP50 = interval.milliseconds(atPercentile: 50)
    intervalP95 = interval.milliseconds(atPercentile: 95)
    intervalP99 = interval.milliseconds(atPercentile: 99)
    intervalMax = interval.maxMilliseconds
    self.cumulative = StatisticsSummary(cumulative)
  }
}

/// What a run measured.
public struct LoadResult: Sendable {
  public var statistics: LoadStatistics
  public var history: [HistoryPoint]
  /// Epoch seconds.
  public var started: Double
  public var duration: Double
  public var users: Int
  public var options: LoadOptions
  public var scenarioName: String
  /// Every request failed to connect: the target cannot be reached.
  public var connectFailuresOnly: Bool
  /// Distributed runs: one line per worker, in join order; empty for a single process.
  public var workers: [WorkerSummary] = []

  /// A distributed run in which a worker was lost: its measurements stop where it did.
  public var incomplete: Bool { workers.contains { $0.lost != nil } }
}
