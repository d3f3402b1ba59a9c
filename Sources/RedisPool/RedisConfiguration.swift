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

  public init(endpoint: Endpoint) {
    self.endpoint = endpoint
  }

  /// Parses `redis://[[user]:password@]host[:port][/db]` or
  /// `unix://[[user]:password@]/path/to.sock[?db=N]`. User and password are percent-decoded. A
  /// host name is resolved here, once (hiredis would resolve it synchronously on every connect).
  /// Errors quote the URL with its password masked.
  public init(url: String) throws {
    let shown = RedisConfiguration.redacting(url)
    func failure(_ reason: String) -> ConfigurationError { ConfigurationError("\(reason) in \(shown)") }
    let isUnix: Bool
    var rest: Substring
    if url.hasPrefix("unix://") {
      isUnix = true
      rest = url.dropFirst("unix://".count)
    } else if url.hasPrefix("redis://") {
      isUnix = false
      rest = url.dropFirst("redis://".count)
    } else {
      throw ConfigurationError("expected redis://host:port/db or unix:///path, got '\(shown)'")
    }
    var username: String? = nil
    var password: String? = nil
    if let at = RedisConfiguration.credentialsEnd(rest, isUnix: isUnix) {
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
      if let passwordPart {
        guard let decoded = PercentDecoding.decode(passwordPart) else {
          throw failure("malformed percent-escape in the password")
        }
        password = decoded
        username = user.isEmpty ? nil : user
      } else {
        // `redis://secret@host`: a lone credential is the password (the default user's).
        password = user
      }
    }
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

  /// The '@' that ends the user information: for redis:// the last one (passwords in the wild
  /// hold unencoded '/' and '@'; a database number never does), for unix:// one before the path.
  static func credentialsEnd(_ rest: Substring, isUnix: Bool) -> Substring.Index? {
    if isUnix { return rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)].lastIndex(of: "@") }
    return rest.lastIndex(of: "@")
  }

  /// `url` with its password masked, for error messages and logs.
  public static func redacting(_ url: String) -> String {
    let isUnix = url.hasPrefix("unix://")
    guard isUnix || url.hasPrefix("redis://") else { return url }
    let rest = url.dropFirst(isUnix ? "unix://".count : "redis://".count)
    guard let at = credentialsEnd(rest, isUnix: isUnix) else { return url }
    let credentials = rest[..<at]
    let keep = credentials.firstIndex(of: ":").map { credentials.index(after: $0) } ?? credentials.startIndex
    return String(url[..<keep]) + "***" + String(url[at...])
  }

  /// A URL for this configuration without the password (for logs).
  public var redactedURL: String {
    switch endpoint {
    case .unix(let path): return "unix://\(path)" + (database == 0 ? "" : "?db=\(database)")
    case .tcp(let host, let port):
      let user = username.map { "\($0):***@" } ?? (password == nil ? "" : ":***@")
      let shownHost = host.contains(":") ? "[\(host)]" : host
      return "redis://\(user)\(shownHost):\(port)/\(database)"
    }
  }

  /// Checks the numeric settings, naming each by its flag.
  public func validate() throws {
    try ConfigurationError.check("redis-pool-size", poolSize, in: 1...10_000)
    try ConfigurationError.check("redis-commands-per-write", commandsPerWrite, in: 1...100_000)
    try ConfigurationError.check("redis-max-in-flight", maxInFlight, in: 1...10_000_000)
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
