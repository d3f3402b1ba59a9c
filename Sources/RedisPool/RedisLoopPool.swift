import HTTPCore

/// The share of the pool's connections that lives on one loop. Everything here runs on that
/// loop's thread: a request handler on the loop sends commands here and gets its reply in a
/// callback on the same thread, with no hop.
public final class RedisLoopPool {
  public let loop: EventLoop
  let connections: [RedisConnection]
  let statistics: RedisLoopStatistics

  init(loop: EventLoop, connections: [RedisConnection], statistics: RedisLoopStatistics) {
    self.loop = loop
    self.connections = connections
    self.statistics = statistics
  }

  /// Connections on this loop that are ready for commands.
  public var liveConnections: Int { connections.reduce(0) { $0 + ($1.isReady ? 1 : 0) } }

  /// Sends `command` on the ready connection with the fewest commands in flight (pipelining
  /// behind them); with none ready it fails at once with `.unavailable`.
  public func send(_ command: RedisCommand, completion: @escaping (RedisResult) -> Void) {
    guard let connection = leastLoaded() else {
      statistics.record(.unavailable)
      completion(.failure(.unavailable))
      return
    }
    connection.send(command, completion: completion)
  }

  /// Sends several commands back to back on one connection (one round trip) and completes once,
  /// with every result in order.
  public func send(batch commands: [RedisCommand], completion: @escaping ([RedisResult]) -> Void) {
    guard !commands.isEmpty else {
      completion([])
      return
    }
    guard let connection = leastLoaded() else {
      for _ in commands { statistics.record(.unavailable) }
      completion(Array(repeating: .failure(.unavailable), count: commands.count))
      return
    }
    let collector = BatchCollector(count: commands.count, completion: completion)
    for (index, command) in commands.enumerated() {
      connection.send(command) { collector.set(index, $0) }
    }
  }

  private func leastLoaded() -> RedisConnection? {
    var best: RedisConnection? = nil
    var bestLoad = Int.max
    for connection in connections where connection.isReady {
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
