import Reactor

/// The share of the pool's connections that lives on one loop. Everything here runs on that
/// loop's thread: a request handler on the loop sends commands here and gets its reply in a
/// callback on the same thread, with no hop.
public final class RedisLoopPool {
  public let loop: EventLoop
  let connections: [RedisConnection]
  let statistics: RedisLoopStatistics
  let health: RedisLoopHealth
  let commandsPerWrite: Int
  /// This loop's share of the pool's in-flight bound.
  let maxInFlight: Int
  /// The connection this loop iteration's commands go to, while it has room.
  private var batchConnection: RedisConnection? = nil

  init(
    loop: EventLoop, connections: [RedisConnection], statistics: RedisLoopStatistics, health: RedisLoopHealth,
    commandsPerWrite: Int, maxInFlight: Int
  ) {
    self.loop = loop
    self.connections = connections
    self.statistics = statistics
    self.health = health
    self.commandsPerWrite = commandsPerWrite
    self.maxInFlight = maxInFlight
  }

  /// Why `count` more commands cannot be sent now, or nil when they can: admission control
  /// (a Redis that slows down must not collect an unbounded queue of commands, each holding a
  /// request) and fail-fast when no connection is up.
  private func refusal(adding count: Int) -> (RedisError, RedisOutcome)? {
    if statistics.inFlight.load(ordering: .relaxed) + count > maxInFlight { return (.overloaded, .rejected) }
    return nil
  }

  /// Connections on this loop that are ready for commands.
  public var liveConnections: Int { connections.reduce(0) { $0 + ($1.isReady ? 1 : 0) } }

  /// Connections on this loop waiting for Redis to answer again after a timeout.
  public var stalledConnections: Int { connections.reduce(0) { $0 + ($1.isReady && $1.isStalled ? 1 : 0) } }

  /// True while Redis has stopped answering this loop altogether (commands fail fast).
  public var redisUnresponsive: Bool { health.unresponsive }

  /// Sends `command` on the connection this loop iteration already writes to (while it holds
  /// fewer than `commandsPerWrite` commands), else on the ready connection with the fewest
  /// commands in flight; with none ready it fails at once with `.unavailable`.
  public func send(_ command: RedisCommand, completion: @escaping (RedisResult) -> Void) {
    if let (error, outcome) = refusal(adding: 1) {
      statistics.record(outcome)
      return completion(.failure(error))
    }
    guard let connection = nextConnection() else {
      statistics.record(.unavailable)
      completion(.failure(.unavailable))
      return
    }
    connection.send(command, completion: .value(completion))
  }

  /// Like `send(_:completion:)`, but the reply is handed over as a view into hiredis's memory,
  /// valid only while `completion` runs: for hot paths that decode a reply without copying it.
  public func send(viewing command: RedisCommand, completion: @escaping (RedisReplyResult) -> Void) {
    if let (error, outcome) = refusal(adding: 1) {
      statistics.record(outcome)
      return completion(.failure(error))
    }
    guard let connection = nextConnection() else {
      statistics.record(.unavailable)
      completion(.failure(.unavailable))
      return
    }
    connection.send(command, completion: .view(completion))
  }

  /// Sends several commands back to back on one connection (one round trip); each reply is
  /// handed to its own completion as a view, in order, valid only while that completion runs.
  public func send(viewingBatch commands: [(RedisCommand, (RedisReplyResult) -> Void)]) {
    guard !commands.isEmpty else { return }
    if let (error, outcome) = refusal(adding: commands.count) {
      for (_, completion) in commands {
        statistics.record(outcome)
        completion(.failure(error))
      }
      return
    }
    guard let connection = nextConnection() else {
      for (_, completion) in commands {
        statistics.record(.unavailable)
        completion(.failure(.unavailable))
      }
      return
    }
    for (command, completion) in commands { connection.send(command, completion: .view(completion)) }
  }

  /// Sends several commands back to back on one connection (one round trip) and completes once,
  /// with every result in order.
  public func send(batch commands: [RedisCommand], completion: @escaping ([RedisResult]) -> Void) {
    guard !commands.isEmpty else {
      completion([])
      return
    }
    if let (error, outcome) = refusal(adding: commands.count) {
      for _ in commands { statistics.record(outcome) }
      return completion(Array(repeating: .failure(error), count: commands.count))
    }
    guard let connection = nextConnection() else {
      for _ in commands { statistics.record(.unavailable) }
      completion(Array(repeating: .failure(.unavailable), count: commands.count))
      return
    }
    let collector = BatchCollector(count: commands.count, completion: completion)
    for (index, command) in commands.enumerated() {
      connection.send(command, completion: .value { collector.set(index, $0) })
    }
  }

  private func nextConnection() -> RedisConnection? {
    if health.unresponsive { return nil }
    if let current = batchConnection, current.awaitsFlush, current.inFlight < commandsPerWrite, !current.isStalled {
      return current
    }
    batchConnection = leastLoaded()
    return batchConnection
  }

  /// The ready connection with the fewest commands in flight, passing over stalled ones (a
  /// command timed out there and nothing has answered since): with every connection stalled,
  /// commands fail at once with `.unavailable` (callers serve stale or a fast 503) instead of
  /// each waiting out the timeout. Late replies on the stalled connections end the stall.
  private func leastLoaded() -> RedisConnection? {
    var best: RedisConnection? = nil
    var bestLoad = Int.max
    for connection in connections where connection.isReady && !connection.isStalled {
      let load = connection.inFlight
      if load < bestLoad {
        best = connection
        bestLoad = load
        if load == 0 { break }
      }
    }
    return best
  }
}

/// Gathers a batch's results and completes once, when the last one arrives.
private final class BatchCollector {
  private var results: [RedisResult]
  private var remaining: Int
  private let completion: ([RedisResult]) -> Void

  init(count: Int, completion: @escaping ([RedisResult]) -> Void) {
    results = Array(repeating: .failure(.unavailable), count: count)
    remaining = count
    self.completion = completion
  }

  func set(_ index: Int, _ result: RedisResult) {
    results[index] = result
    remaining -= 1
    if remaining == 0 { completion(results) }
  }
}
