import Reactor
import Synchronization

/// The share of the pool's connections that lives on one loop. Everything here runs on that
/// loop's thread: a request handler on the loop sends commands here and gets its reply in a
/// callback on the same thread, with no hop.
///
/// With one Redis every connection talks to it. In a cluster the loop's connections are spread
/// over the nodes it routes to (`apply(_:)`), each command goes to the node that owns its key's
/// slot, and redirections are followed here (`follow`), on the same loop.
public final class RedisLoopPool {
  public let loop: EventLoop
  private(set) var connections: [RedisConnection]
  let statistics: RedisLoopStatistics
  let configuration: RedisConfiguration
  let commandsPerWrite: Int
  /// This loop's share of the pool's in-flight bound.
  let maxInFlight: Int
  /// A single Redis: its connections. nil in a cluster.
  private let single: NodeConnections?
  /// Why the last command could not be routed (loop-confined scratch, read right after).
  private var routeFailure = RedisError.unavailable

  // MARK: Cluster state (loop-confined; replaced by `apply`)

  private var topology: ClusterTopology? = nil
  /// The owner of each slot as this loop knows it: the topology's, corrected by MOVED replies.
  private var slotOwners: [Int16] = []
  /// This loop's connections to each node of the topology (nil: not connected to that node).
  private var nodeGroups: [NodeConnections?] = []
  /// The reachable replicas of each primary, for reads when reading from replicas.
  private var replicaNodes: [[Int]] = []
  private var replicaCursor = 0
  private var healthByAddress: [String: RedisLoopHealth] = [:]
  /// The servers this loop routes to, for readiness (read from any thread).
  private let routedServers = Mutex<[RedisLoopHealth]>([])
  /// Asks for a topology refresh (rate-limited by the monitor); set by the pool.
  var requestRefresh: @Sendable () -> Void = {}
  /// Makes a connection when a topology needs more than this loop has.
  private let makeConnection: (RedisLoopHealth) -> RedisConnection

  init(
    loop: EventLoop, connections: [RedisConnection], statistics: RedisLoopStatistics, configuration: RedisConfiguration,
    maxInFlight: Int, single: NodeConnections?, makeConnection: @escaping (RedisLoopHealth) -> RedisConnection
  ) {
    self.loop = loop
    self.connections = connections
    self.statistics = statistics
    self.configuration = configuration
    self.commandsPerWrite = configuration.commandsPerWrite
    self.maxInFlight = maxInFlight
    self.single = single
    self.makeConnection = makeConnection
    if let single { routedServers.withLock { $0 = [single.health] } }
  }

  /// Why `count` more commands cannot be sent now, or nil when they can: admission control
  /// (a Redis that slows down must not collect an unbounded queue of commands, each holding a
  /// request).
  private func refusal(adding count: Int) -> (RedisError, RedisOutcome)? {
    if statistics.inFlight.load(ordering: .relaxed) + count > maxInFlight { return (.overloaded, .rejected) }
    return nil
  }

  /// Connections on this loop that are ready for commands.
  /// Whether this pool routes over a Redis Cluster (keys of one command must share a slot).
  public var isCluster: Bool { single == nil }

  public var liveConnections: Int { connections.reduce(0) { $0 + ($1.isReady ? 1 : 0) } }

  /// Connections on this loop waiting for Redis to answer again after a timeout.
  public var stalledConnections: Int { connections.reduce(0) { $0 + ($1.isReady && $1.isStalled ? 1 : 0) } }

  /// True while Redis has stopped answering this loop altogether (commands fail fast); in a
  /// cluster, while some node it routes to has.
  public var redisUnresponsive: Bool {
    if let single { return single.health.unresponsive }
    return nodeGroups.contains { $0?.health.unresponsive == true }
  }

  // MARK: Sending

  /// Sends `command` on the connection this loop iteration already writes to (while it holds
  /// fewer than `commandsPerWrite` commands), else on the ready connection with the fewest
  /// commands in flight; with none ready it fails at once with `.unavailable`.
  public func send(_ command: RedisCommand, completion: @escaping (RedisResult) -> Void) {
    if let (error, outcome) = refusal(adding: 1) {
      statistics.record(outcome)
      return completion(.failure(error))
    }
    dispatch(command, .value(completion), redirects: 0)
  }

  /// Like `send(_:completion:)`, but the reply is handed over as a view into hiredis's memory,
  /// valid only while `completion` runs: for hot paths that decode a reply without copying it.
  public func send(viewing command: RedisCommand, completion: @escaping (RedisReplyResult) -> Void) {
    if let (error, outcome) = refusal(adding: 1) {
      statistics.record(outcome)
      return completion(.failure(error))
    }
    dispatch(command, .view(completion), redirects: 0)
  }

  /// Sends several commands back to back (one round trip per server); each reply is handed to
  /// its own completion as a view, valid only while that completion runs. In a cluster the
  /// commands go to their nodes at once and each completes when its node answers.
  public func send(viewingBatch commands: [RedisViewRequest]) {
    guard !commands.isEmpty else { return }
    if let (error, outcome) = refusal(adding: commands.count) {
      for request in commands {
        statistics.record(outcome)
        request.completion(.failure(error))
      }
      return
    }
    if let single {
      // One connection for the whole batch: one write, one read.
      guard let connection = single.next(commandsPerWrite: commandsPerWrite) else {
        for request in commands {
          statistics.record(.unavailable)
          request.completion(.failure(.unavailable))
        }
        return
      }
      for request in commands { connection.send(request.command, completion: .view(request.completion)) }
      return
    }
    for request in commands { dispatch(request.command, .view(request.completion), redirects: 0) }
  }

  /// Sends several commands back to back and completes once, with every result in order.
  public func send(batch commands: [RedisCommand], completion: @escaping ([RedisResult]) -> Void) {
    guard !commands.isEmpty else {
      completion([])
      return
    }
    if let (error, outcome) = refusal(adding: commands.count) {
      for _ in commands { statistics.record(outcome) }
      return completion(Array(repeating: .failure(error), count: commands.count))
    }
    let collector = BatchCollector(count: commands.count, completion: completion)
    if let single {
      guard let connection = single.next(commandsPerWrite: commandsPerWrite) else {
        for _ in commands { statistics.record(.unavailable) }
        completion(Array(repeating: .failure(.unavailable), count: commands.count))
        return
      }
      for (index, command) in commands.enumerated() {
        connection.send(command, completion: .value { collector.set(index, $0) })
      }
      return
    }
    for (index, command) in commands.enumerated() {
      dispatch(command, .value { collector.set(index, $0) }, redirects: 0)
    }
  }

  /// Sends `commands` with at most `limit` of them waiting for an answer at a time, and
  /// completes once with every result in order. For long-running commands (scripts): Redis runs
  /// every command a client has pipelined in one read before it serves anyone else, so ten
  /// 150 µs script calls sent back to back hold every other client for 1.5 ms; paced, others
  /// are served between them. After a failure the rest are not sent: they fail with the same
  /// error. With more than one in flight, commands may run on different connections (and, in a
  /// cluster, nodes) in any order.
  public func send(paced commands: [RedisCommand], inFlight limit: Int, completion: @escaping ([RedisResult]) -> Void) {
    let limit = max(1, limit)
    var results = [RedisResult?](repeating: nil, count: commands.count)
    var sent = 0
    var answered = 0
    var failure: RedisResult? = nil
    var completed = false
    // A completion may run inside `send` (a refusal): `fill` then runs again from it, and the
    // flag keeps the caller's completion to one call.
    func finishIfDone() {
      guard answered == commands.count, !completed else { return }
      completed = true
      completion(results.map { $0! })
    }
    func fill() {
      while sent < commands.count && sent - answered < limit {
        let index = sent
        sent += 1
        if let failure {
          results[index] = failure
          answered += 1
          continue
        }
        send(commands[index]) { result in
          results[index] = result
          answered += 1
          if case .failure = result, failure == nil { failure = result }
          fill()
          finishIfDone()
        }
      }
    }
    fill()
    finishIfDone()
  }

  /// Sends an admitted command to the connection its key routes to, or fails it at once.
  private func dispatch(_ command: RedisCommand, _ completion: RedisConnection.Completion, redirects: Int) {
    let connection =
      if let single { single.next(commandsPerWrite: commandsPerWrite) } else { clusterConnection(for: command) }
    guard let connection else {
      let error = single == nil ? routeFailure : .unavailable
      statistics.record(error == .unavailable ? .unavailable : .clusterUnroutable)
      return completion.fail(error)
    }
    connection.send(command, completion: completion, redirects: redirects)
  }

  // MARK: Cluster routing

  /// The connection for `command` in a cluster: to a replica of its slot's primary for a read
  /// when reading from replicas, else to the primary. nil (with `routeFailure` set) when none.
  private func clusterConnection(for command: RedisCommand) -> RedisConnection? {
    guard topology != nil else {
      routeFailure = .clusterUnavailable("the cluster's topology is not known yet")
      return nil
    }
    let owner: Int
    let slot = command.slot
    if let slot {
      let known = slotOwners[Int(slot)]
      guard known != ClusterTopology.unowned else {
        routeFailure = .clusterUnavailable("no node serves slot \(slot)")
        requestRefresh()
        return nil
      }
      owner = Int(known)
    } else {
      // A keyless command: any primary will do.
      guard
        let any = nodeGroups.indices.first(where: {
          nodeGroups[$0] != nil && topology?.nodes[$0].isPrimary == true
        })
      else {
        routeFailure = .unavailable
        return nil
      }
      owner = any
    }
    if configuration.readFrom != .primary && owner < replicaNodes.count && command.isReadOnly {
      let replicas = replicaNodes[owner]
      if !replicas.isEmpty {
        for step in 0..<replicas.count {
          let node = replicas[(replicaCursor &+ step) % replicas.count]
          if let connection = nodeGroups[node]?.next(commandsPerWrite: commandsPerWrite) {
            replicaCursor &+= step &+ 1
            return connection
          }
        }
        if configuration.readFrom == .replica {
          routeFailure = .unavailable
          return nil
        }
      }
    }
    guard owner < nodeGroups.count, let group = nodeGroups[owner] else {
      // The owner is known but not connected (it failed): wait for the failover to show.
      routeFailure = .clusterUnavailable("the node serving slot \(slot.map(String.init) ?? "-") is down")
      requestRefresh()
      return nil
    }
    guard let connection = group.next(commandsPerWrite: commandsPerWrite) else {
      routeFailure = .unavailable
      return nil
    }
    return connection
  }

  /// Follows a cluster redirection of `command` (its reply was MOVED, ASK, TRYAGAIN or
  /// CLUSTERDOWN); the command's completion runs once, with the final answer.
  func follow(
    _ redirect: ClusterRedirect, command: RedisCommand, completion: RedisConnection.Completion, redirects: Int
  ) {
    func fail(_ reason: String) {
      statistics.record(.clusterUnroutable)
      completion.fail(.clusterUnavailable(reason))
    }
    guard redirects <= configuration.clusterMaxRedirects else {
      return fail("\(command.name) was redirected more than \(configuration.clusterMaxRedirects) times")
    }
    switch redirect {
    case .moved(let slot, let address):
      requestRefresh()
      guard let node = topology?.node(at: address), node < nodeGroups.count, let group = nodeGroups[node] else {
        return fail("slot \(slot) moved to \(address), a node this server does not know yet")
      }
      slotOwners[Int(slot)] = Int16(node)
      guard let connection = group.next(commandsPerWrite: commandsPerWrite) else {
        statistics.record(.unavailable)
        return completion.fail(.unavailable)
      }
      connection.send(command, completion: completion, redirects: redirects)
    case .ask(let slot, let address):
      guard let node = topology?.node(at: address), node < nodeGroups.count, let group = nodeGroups[node] else {
        requestRefresh()
        return fail("slot \(slot) is migrating to \(address), a node this server does not know yet")
      }
      guard let connection = group.next(commandsPerWrite: commandsPerWrite) else {
        statistics.record(.unavailable)
        return completion.fail(.unavailable)
      }
      // Back to back on one connection: ASKING lets the next command in, once.
      connection.send(Self.asking, completion: .value { _ in })
      connection.send(command, completion: completion, redirects: redirects)
    case .tryAgain:
      // A multi-key command met a slot half migrated: it settles within milliseconds.
      let delay = UInt64(redirects) * 10_000_000
      _ = loop.schedule(afterNanoseconds: delay) { [weak self] in
        self?.dispatch(command, completion, redirects: redirects)
      }
    case .clusterDown(let text):
      requestRefresh()
      fail(text)
    }
  }

  private static let asking = RedisCommand("ASKING")

  /// A connection of this loop was lost or failed to connect: in a cluster, the node may have
  /// failed over, so the topology is read again (rate-limited).
  func connectionFailed() {
    requestRefresh()
  }

  /// Routes by a new topology: the loop's connections are spread evenly over the nodes it
  /// needs (the primaries that own slots, and their healthy replicas when reads go there), at
  /// least one per node; connections already on a needed node stay, the rest move.
  func apply(_ newTopology: ClusterTopology) {
    topology = newTopology
    slotOwners = newTopology.slotOwners
    var owners = Set<Int>()
    for owner in newTopology.slotOwners where owner != ClusterTopology.unowned { owners.insert(Int(owner)) }
    var targets: [(node: Int, readOnly: Bool)] = []
    var replicas = Array(repeating: [Int](), count: newTopology.nodes.count)
    for (index, node) in newTopology.nodes.enumerated() where node.isHealthy {
      if node.isPrimary {
        if owners.contains(index) { targets.append((index, false)) }
      } else if configuration.readFrom != .primary, let primary = node.primary, owners.contains(primary) {
        targets.append((index, true))
        replicas[primary].append(index)
      }
    }
    while connections.count < targets.count {
      let connection = makeConnection(RedisLoopHealth())
      connection.router = self
      connections.append(connection)
      redisLogger.notice(
        "the cluster has more nodes than this loop has connections: one more connection",
        metadata: ["nodes": "\(targets.count)", "loop": "\(loop.index)"])
    }
    var quota = targets.indices.map { position in
      connections.count / max(1, targets.count) + (position < connections.count % max(1, targets.count) ? 1 : 0)
    }
    var members = Array(repeating: [RedisConnection](), count: targets.count)
    var spare: [RedisConnection] = []
    for connection in connections {
      if let target = connection.target, case .tcp(let host, let port) = target.endpoint,
        let position = targets.firstIndex(where: {
          newTopology.nodes[$0.node].address == ClusterTopology.address(host: host, port: port)
            && $0.readOnly == target.readOnly
        }), quota[position] > 0
      {
        quota[position] -= 1
        members[position].append(connection)
      } else {
        spare.append(connection)
      }
    }
    for position in targets.indices {
      while quota[position] > 0, let connection = spare.popLast() {
        quota[position] -= 1
        members[position].append(connection)
      }
    }
    var groups = [NodeConnections?](repeating: nil, count: newTopology.nodes.count)
    var health: [String: RedisLoopHealth] = [:]
    for (position, target) in targets.enumerated() {
      let node = newTopology.nodes[target.node]
      let key = node.address + (target.readOnly ? "/replica" : "")
      let nodeHealth = healthByAddress[key] ?? RedisLoopHealth(address: node.address)
      health[key] = nodeHealth
      for connection in members[position] {
        connection.retarget(to: .tcp(host: node.host, port: node.port), readOnly: target.readOnly, health: nodeHealth)
      }
      groups[target.node] = NodeConnections(connections: members[position], health: nodeHealth)
    }
    healthByAddress = health
    nodeGroups = groups
    replicaNodes = replicas
    routedServers.withLock { $0 = targets.map { groups[$0.node]!.health } }
  }

  /// The servers this loop routes to with no live connection (`host:port`, or "" for a single
  /// Redis). Safe from any thread.
  func unreachableServers() -> [String] {
    routedServers.withLock { servers in
      servers.filter { $0.connectionsUp.load(ordering: .relaxed) == 0 }.map(\.address)
    }
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
