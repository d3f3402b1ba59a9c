/// One loop's connections to one Redis server (the server, or one cluster node), and the choice
/// of which one takes the next command. Loop-confined.
final class NodeConnections {
  let connections: [RedisConnection]
  /// What this loop's connections know together about the server answering.
  let health: RedisLoopHealth
  /// The connection this loop iteration's commands go to, while it has room.
  private var batchConnection: RedisConnection? = nil

  init(connections: [RedisConnection], health: RedisLoopHealth) {
    self.connections = connections
    self.health = health
  }

  /// Connections ready for commands.
  var liveConnections: Int { connections.reduce(0) { $0 + ($1.isReady ? 1 : 0) } }

  /// The connection for the next command: the one this loop iteration already writes to (while
  /// it holds fewer than `commandsPerWrite` commands), else the ready connection with the fewest
  /// in flight; nil when none is ready or the server has stopped answering.
  func next(commandsPerWrite: Int) -> RedisConnection? {
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
