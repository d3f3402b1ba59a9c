import Foundation
import XCTest

/// A real Redis Cluster on loopback, started by a test: `masters` primaries and one replica each
/// (`redis-server --cluster-enabled yes` processes joined by `redis-cli --cluster create`), torn
/// down by PID when the test is done. Nothing is persisted.
public final class RedisClusterProcess {
  /// One node: its port and process.
  public final class Node {
    public let port: Int
    let directory: String
    var process: Process?

    init(port: Int, directory: String) {
      self.port = port
      self.directory = directory
    }

    public var isRunning: Bool { process?.isRunning == true }
  }

  public let nodes: [Node]
  /// Milliseconds without an answer before the cluster fails a node over.
  public let nodeTimeout: Int
  private let directory: String

  /// Seed URL: `redis+cluster://127.0.0.1:p1,127.0.0.1:p2`.
  public var url: String { "redis+cluster://" + nodes.prefix(2).map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

  public init(masters: Int = 3, nodeTimeout: Int = 2000) throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
      throw XCTSkip("redis-server is not installed (scripts/setup.sh installs it)")
    }
    self.nodeTimeout = nodeTimeout
    directory = NSTemporaryDirectory() + "featureserver-cluster-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var nodes: [Node] = []
    var used = Set<Int>()
    while nodes.count < masters * 2 {
      // The cluster bus listens on port + 10000: both must be free.
      let port = try freeTCPPort()
      guard port <= 55_535, !used.contains(port), RedisClusterProcess.isFree(port + 10_000) else { continue }
      used.insert(port)
      nodes.append(Node(port: port, directory: "\(directory)/\(port)"))
    }
    self.nodes = nodes
    for node in nodes { try start(node) }
    let create = try RedisClusterProcess.run(
      "/usr/bin/redis-cli",
      ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"])
    guard create.contains("[OK] All 16384 slots covered") else {
      stopAll()
      throw NSError(domain: "redis-cli --cluster create failed: \(create)", code: 1)
    }
    guard waitUntilHealthy(timeout: 20) else {
      stopAll()
      throw NSError(domain: "the cluster did not reach cluster_state:ok", code: 1)
    }
  }

  deinit { stopAll() }

  /// Starts (or restarts) a node with its config file, so it rejoins as it was.
  public func start(_ node: Node) throws {
    try FileManager.default.createDirectory(atPath: node.directory, withIntermediateDirectories: true)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
    process.arguments = [
      "--port", "\(node.port)", "--bind", "127.0.0.1", "--cluster-enabled", "yes",
      "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "\(nodeTimeout)", "--appendonly", "no",
      "--save", "", "--dir", node.directory, "--daemonize", "no", "--loglevel", "notice", "--logfile",
      "\(node.directory)/redis.log", "--maxclients", "1000",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    node.process = process
    for _ in 0..<200 {
      if (try? cli(node, ["PING"]))?.contains("PONG") == true { return }
      usleep(25_000)
    }
    throw NSError(domain: "redis-server did not start on port \(node.port)", code: 1)
  }

  /// Sends `signal` to a node and waits for it to end.
  public func kill(_ node: Node, signal: Int32 = SIGKILL) {
    guard let process = node.process, process.isRunning else { return }
    Glibc.kill(process.processIdentifier, signal)
    process.waitUntilExit()
    node.process = nil
  }

  public func stopAll() {
    for node in nodes { kill(node) }
    if ProcessInfo.processInfo.environment["KEEP_CLUSTER_LOGS"] == nil {
      try? FileManager.default.removeItem(atPath: directory)
    }
  }

  /// True once every running node reports `cluster_state:ok` and every replica has finished
  /// its sync (a replica still loading cannot take over from its primary).
  public func waitUntilHealthy(timeout: Double) -> Bool {
    waitUntil(timeout: timeout) {
      nodes.filter(\.isRunning).allSatisfy { node in
        guard (try? cli(node, ["CLUSTER", "INFO"]))?.contains("cluster_state:ok") == true,
          let replication = try? cli(node, ["INFO", "replication"])
        else { return false }
        return replication.contains("role:master")
          || (replication.contains("master_link_status:up") && replication.contains("master_sync_in_progress:0"))
      }
    } != nil
  }

  /// When the running nodes last logged `Cluster state changed: ok` after `date` (the latest of
  /// them: the moment the whole cluster serves again after a failover), or nil.
  public func lastStateOK(after date: Date) -> Date? {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone.current
    formatter.dateFormat = "dd MMM yyyy HH:mm:ss.SSS"
    var latest: Date? = nil
    for node in nodes where node.isRunning {
      let log = (try? String(contentsOfFile: "\(node.directory)/redis.log", encoding: .utf8)) ?? ""
      var nodeBack: Date? = nil
      for line in log.split(separator: "\n") where line.contains("Cluster state changed: ok") {
        // "12345:M 01 Dec 2026 08:24:16.870 # Cluster state changed: ok"
        let fields = line.split(separator: " ")
        guard fields.count > 5, let when = formatter.date(from: fields[1...4].joined(separator: " ")), when > date
        else { continue }
        nodeBack = when
      }
      guard let nodeBack else { return nil }
      latest = max(latest ?? nodeBack, nodeBack)
    }
    return latest
  }

  /// The running primaries, by port, as the first running node sees them.
  public func primaries() throws -> [Node] {
    guard let any = nodes.first(where: \.isRunning) else { return [] }
    let text = try cli(any, ["CLUSTER", "NODES"])
    var ports: [Int] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 2, fields[2].contains("master"), !fields[2].contains("fail") else { continue }
      if let port = fields[1].split(separator: "@").first?.split(separator: ":").last.flatMap({ Int($0) }) {
        ports.append(port)
      }
    }
    return nodes.filter { ports.contains($0.port) }
  }

  /// The running replicas.
  public func replicas() throws -> [Node] {
    let primaryPorts = Set(try primaries().map(\.port))
    return nodes.filter { $0.isRunning && !primaryPorts.contains($0.port) }
  }

  /// The node serving `key`'s slot as primary.
  public func primary(ofKey key: String) throws -> Node {
    let any = nodes.first(where: \.isRunning)!
    let slot = Int(try cli(any, ["CLUSTER", "KEYSLOT", key]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    let slots = try cli(any, ["CLUSTER", "SLOTS"])
    // redis-cli prints the nested reply one value per line: start, end, host, port, id, ...
    let lines = slots.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    var index = 0
    while index + 3 < lines.count {
      if let start = Int(lines[index]), let end = Int(lines[index + 1]), lines[index + 2] == "127.0.0.1",
        let port = Int(lines[index + 3]), start <= slot, slot <= end
      {
        return nodes.first { $0.port == port }!
      }
      index += 1
    }
    throw NSError(domain: "no primary for slot \(slot)", code: 1)
  }

  /// Runs redis-cli against `node`.
  @discardableResult
  public func cli(_ node: Node, _ arguments: [String]) throws -> String {
    try RedisClusterProcess.run("/usr/bin/redis-cli", ["-p", "\(node.port)"] + arguments)
  }

  /// Runs redis-cli in cluster mode (-c follows redirections) against the first running node.
  @discardableResult
  public func clusterCLI(_ arguments: [String]) throws -> String {
    let node = nodes.first(where: \.isRunning)!
    return try RedisClusterProcess.run("/usr/bin/redis-cli", ["-c", "-p", "\(node.port)"] + arguments)
  }

  /// Runs a program and returns its output (stdout and stderr).
  @discardableResult
  public static func run(_ executable: String, _ arguments: [String]) throws -> String {
    try runCommand(executable, arguments).output
  }

  private static func isFree(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
  }
}
