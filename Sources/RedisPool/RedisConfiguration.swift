import Codecs
import Reactor

/// Where Redis is and how to talk to it: parsed from a URL, with pool size, timeouts and
/// reconnect backoff. Every field has a CLI flag.
public struct RedisConfiguration: Sendable, Equatable {
  /// How to reach the server.
  public enum Endpoint: Sendable, Equatable {
    /// A numeric IPv4/IPv6 address (host names are resolved once, at start, off the loops).
    case tcp(host: String, port: Int)
    case unix(path: String)
  }

  public var endpoint: Endpoint
  /// ACL user name (Redis 6+); nil uses the default user.
  public var username: String?
  public var password: String?
  /// Database number for SELECT on every (re)connect.
  public var database = 0
  /// Connections in total across all loops.
  public var poolSize = 50
  /// Seconds to establish a connection (TCP connect plus the AUTH/SELECT handshake).
  public var connectTimeout: Double = 1
  /// Seconds for a command's reply; then it fails with `.timeout` (the connection stays).
  public var commandTimeout: Double = 0.5
  /// Seconds a connection with commands waiting may go without any reply before it is reset
  /// (Redis, or the path to it, is stuck). At least the command timeout.
  public var stallTimeout: Double = 2
  /// Commands in flight across the whole pool (split evenly over the loops); beyond it commands
  /// fail at once with `.overloaded` instead of queueing without bound behind a slow Redis.
  public var maxInFlight = 10_000
  /// First reconnect delay in seconds; it doubles after each failed attempt...
  public var reconnectBaseDelay: Double = 0.05
  /// ...up to this many seconds. Each delay is jittered down to half of it.
  public var reconnectMaxDelay: Double = 1
  /// The commands one loop iteration sends share one connection while it has fewer than this
  /// many in flight; then the next goes to the least loaded one. Shared, they leave in one write
  /// and come back in one read (fewer system calls and wake-ups on both sides); 1 gives every
  /// command its own connection when one is idle.
  public var commandsPerWrite = 16
  /// The name every connection gives itself (`CLIENT SETNAME`), shown by `CLIENT LIST`.
  public var clientName = "featureserver"
  /// Redis Cluster seed nodes (`redis+cluster://h1:p1,h2:p2`); nil: one Redis server at
  /// `endpoint`. The pool learns the rest of the cluster from them.
  public var clusterSeeds: [Endpoint]? = nil
  /// Where cluster reads go; writes always go to primaries.
  public var readFrom = ReadFrom.primary
  /// Seconds between topology refreshes of a healthy cluster (redirects, lost connections and
  /// an incomplete slot map refresh it sooner).
  public var clusterRefreshInterval: Double = 10
  /// Seconds at least between two topology refreshes however often they are asked for (a
  /// storm of MOVED replies during a resharding asks once per command).
  public var clusterRefreshMinInterval: Double = 0.2
  /// Redirections (MOVED, ASK, TRYAGAIN) one command may follow before it fails.
  public var clusterMaxRedirects = 5

  /// Where reads go in a cluster.
  public enum ReadFrom: String, Sendable, Equatable, CaseIterable {
    /// Every command to the slot's primary.
    case primary
    /// Reads to the slot's replicas only (after `READONLY`); a shard without a healthy replica
    /// is read from its primary. Replicas may lag their primary by a few milliseconds.
    case replica
    /// Reads to a replica with a live connection, else to the primary.
    case preferReplica = "prefer-replica"
  }

  /// True for a Redis Cluster.
  public var isCluster: Bool { clusterSeeds != nil }

  public init(endpoint: Endpoint) {
    self.endpoint = endpoint
  }

  /// Parses `redis://[[user]:password@]host[:port][/db]`,
  /// `unix://[[user]:password@]/path/to.sock[?db=N]` or a cluster's seed nodes,
  /// `redis+cluster://[[user]:password@]host:port[,host:port...]`. User and password are percent-decoded. A
  /// host name is resolved here, once (hiredis would resolve it synchronously on every connect).
  /// Errors quote the URL with its password masked.
  public init(url: String) throws {
    let shown = RedisConfiguration.redacting(url)
    func failure(_ reason: String) -> ConfigurationError { ConfigurationError("\(reason) in \(shown)") }
    let isUnix: Bool
    var rest: Substring
    if url.hasPrefix(RedisConfiguration.clusterScheme) {
      try self.init(clusterURL: url, shown: shown)
      return
    }
    if url.hasPrefix("unix://") {
      isUnix = true
      rest = url.dropFirst("unix://".count)
    } else if url.hasPrefix("redis://") {
      isUnix = false
      rest = url.dropFirst("redis://".count)
    } else {
      throw ConfigurationError(
        "expected redis://host:port/db, unix:///path or redis+cluster://host:port,host:port, got '\(shown)'")
    }
    let (username, password) = try RedisConfiguration.credentials(&rest, isUnix: isUnix, describe: failure)
    var database = 0
    if isUnix {
      var path = rest
      if let question = rest.firstIndex(of: "?") {
        path = rest[..<question]
        for pair in rest[rest.index(after: question)...].split(separator: "&") {
          let parts = pair.split(separator: "=", maxSplits: 1)
          guard parts.count == 2, parts[0] == "db" else { throw failure("unsupported query '\(pair)' (only db=N)") }
          guard let value = Int(parts[1]), (0...RedisConfiguration.maxDatabase).contains(value) else {
            throw failure("db must be 0...\(RedisConfiguration.maxDatabase), got '\(parts[1])'")
          }
          database = value
        }
      }
      guard path.hasPrefix("/") else { throw failure("the unix socket path must be absolute") }
      self.init(endpoint: .unix(path: String(path)))
    } else {
      var hostPort = rest
      if let slash = rest.firstIndex(of: "/") {
        hostPort = rest[..<slash]
        let path = rest[rest.index(after: slash)...]
        if !path.isEmpty {
          guard let value = Int(path), (0...RedisConfiguration.maxDatabase).contains(value) else {
            throw failure("database must be 0...\(RedisConfiguration.maxDatabase), got '\(path)'")
          }
          database = value
        }
      }
      let (host, port) = try RedisConfiguration.hostAndPort(hostPort, defaultPort: 6379, describe: failure)
      let address: String
      do {
        address = try HostResolution.numericAddress(of: host)
      } catch {
        throw ConfigurationError("\(error) (\(shown))")
      }
      self.init(endpoint: .tcp(host: address, port: port))
    }
    self.username = username
    self.password = password
    self.database = database
  }

  static let clusterScheme = "redis+cluster://"

  /// `redis+cluster://[[user]:password@]host:port[,host:port...]`: seed nodes of a cluster.
  private init(clusterURL url: String, shown: String) throws {
    func failure(_ reason: String) -> ConfigurationError { ConfigurationError("\(reason) in \(shown)") }
    var rest = url.dropFirst(RedisConfiguration.clusterScheme.count)
    let (username, password) = try RedisConfiguration.credentials(&rest, isUnix: false, describe: failure)
    if let slash = rest.firstIndex(of: "/") {
      let path = rest[rest.index(after: slash)...]
      guard path.isEmpty || path == "0" else { throw failure("a cluster has only database 0") }
      rest = rest[..<slash]
    }
    var seeds: [Endpoint] = []
    for part in rest.split(separator: ",", omittingEmptySubsequences: true) {
      let (host, port) = try RedisConfiguration.hostAndPort(part, defaultPort: 6379, describe: failure)
      do {
        seeds.append(.tcp(host: try HostResolution.numericAddress(of: host), port: port))
      } catch {
        throw ConfigurationError("\(error) (\(shown))")
      }
    }
    guard let first = seeds.first else { throw failure("no seed node") }
    self.init(endpoint: first)
    self.clusterSeeds = seeds
    self.username = username
    self.password = password
  }

  /// The highest database number Redis accepts by default (`databases 16`); larger values are
  /// refused here rather than by SELECT on every connect.
  static let maxDatabase = 15

  /// `host[:port]` or `[v6]:port`.
  static func hostAndPort(
    _ text: Substring, defaultPort: Int, describe failure: (String) -> ConfigurationError
  ) throws -> (host: String, port: Int) {
    var host = text
    var port = defaultPort
    if host.hasPrefix("[") {
      guard let close = host.firstIndex(of: "]") else { throw failure("unclosed [") }
      let after = host[host.index(after: close)...]
      if !after.isEmpty {
        guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else {
          throw failure("bad port")
        }
        port = value
      }
      host = host[host.index(after: host.startIndex)..<close]
    } else if let colon = host.lastIndex(of: ":") {
      guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
        throw failure("bad port")
      }
      port = value
      host = host[..<colon]
    }
    guard !host.isEmpty else { throw failure("no host") }
    return (String(host), port)
  }

  /// Takes `[user][:password]@` off the front of `rest`, percent-decoded.
  static func credentials(
    _ rest: inout Substring, isUnix: Bool, describe failure: (String) -> ConfigurationError
  ) throws -> (username: String?, password: String?) {
    guard let at = RedisConfiguration.credentialsEnd(rest, isUnix: isUnix) else { return (nil, nil) }
    let credentials = rest[..<at]
    rest = rest[rest.index(after: at)...]
    let userPart: Substring
    let passwordPart: Substring?
    if let colon = credentials.firstIndex(of: ":") {
      userPart = credentials[..<colon]
      passwordPart = credentials[credentials.index(after: colon)...]
    } else {
      userPart = credentials
      passwordPart = nil
    }
    guard let user = PercentDecoding.decode(userPart) else {
      throw failure("malformed percent-escape in the user name")
    }
    guard let passwordPart else {
      // `redis://secret@host`: a lone credential is the password (the default user's).
      return (nil, user)
    }
    guard let decoded = PercentDecoding.decode(passwordPart) else {
      throw failure("malformed percent-escape in the password")
    }
    return (user.isEmpty ? nil : user, decoded)
  }

  /// The '@' that ends the user information: for redis:// the last one (passwords in the wild
  /// hold unencoded '/' and '@'; a database number never does), for unix:// one before the path.
  static func credentialsEnd(_ rest: Substring, isUnix: Bool) -> Substring.Index? {
    if isUnix { return rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)].lastIndex(of: "@") }
    return rest.lastIndex(of: "@")
  }

  /// `url` with its password masked, for error messages and logs.
  public static func redacting(_ url: String) -> String {
    let isUnix = url.hasPrefix("unix://")
    let scheme = ["unix://", "redis://", clusterScheme].first { url.hasPrefix($0) }
    guard let scheme else { return url }
    let rest = url.dropFirst(scheme.count)
    guard let at = credentialsEnd(rest, isUnix: isUnix) else { return url }
    let credentials = rest[..<at]
    let keep = credentials.firstIndex(of: ":").map { credentials.index(after: $0) } ?? credentials.startIndex
    return String(url[..<keep]) + "***" + String(url[at...])
  }

  /// A URL for this configuration without the password (for logs).
  public var redactedURL: String {
    let user = username.map { "\($0):***@" } ?? (password == nil ? "" : ":***@")
    if let clusterSeeds {
      let hosts = clusterSeeds.map { seed -> String in
        guard case .tcp(let host, let port) = seed else { return "?" }
        return (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
      }
      return RedisConfiguration.clusterScheme + user + hosts.joined(separator: ",")
    }
    switch endpoint {
    case .unix(let path): return "unix://\(path)" + (database == 0 ? "" : "?db=\(database)")
    case .tcp(let host, let port):
      let shownHost = host.contains(":") ? "[\(host)]" : host
      return "redis://\(user)\(shownHost):\(port)/\(database)"
    }
  }

  /// Checks the numeric settings, naming each by its flag.
  public func validate() throws {
    try ConfigurationError.check("redis-pool-size", poolSize, in: 1...10_000)
    try ConfigurationError.check("redis-commands-per-write", commandsPerWrite, in: 1...100_000)
    try ConfigurationError.check("redis-max-in-flight", maxInFlight, in: 1...10_000_000)
    try ConfigurationError.check("redis-cluster-max-redirects", clusterMaxRedirects, in: 1...100)
    try ConfigurationError.checkSeconds(
      "redis-cluster-refresh", clusterRefreshInterval, positive: true, maximum: 86_400)
    try ConfigurationError.checkSeconds(
      "redis-cluster-refresh-min-interval", clusterRefreshMinInterval, positive: true, maximum: 3600)
    if !isCluster && readFrom != .primary {
      throw ConfigurationError(
        "redis-read-from \(readFrom.rawValue) needs a cluster (redis+cluster://...): a single Redis has no replicas to find"
      )
    }
    for (name, value) in [
      ("redis-connect-timeout", connectTimeout), ("redis-command-timeout", commandTimeout),
      ("redis-stall-timeout", stallTimeout), ("redis-reconnect-base-delay", reconnectBaseDelay),
      ("redis-reconnect-max-delay", reconnectMaxDelay),
    ] {
      try ConfigurationError.checkSeconds(name, value, positive: true, maximum: 3600)
    }
    guard reconnectMaxDelay >= reconnectBaseDelay else {
      throw ConfigurationError("redis-reconnect-max-delay must be at least redis-reconnect-base-delay")
    }
    guard stallTimeout >= commandTimeout else {
      throw ConfigurationError("redis-stall-timeout must be at least redis-command-timeout")
    }
  }
}
