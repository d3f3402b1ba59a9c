#if canImport(Glibc)
  import Glibc
#endif

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
  /// Seconds for a command's reply; then it fails with `.timeout` and the connection resets.
  public var commandTimeout: Double = 0.5
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

  /// Parses `redis://[user:password@]host[:port][/db]` or `unix:///path/to.sock[?db=N]`.
  /// A host name is resolved here, once (hiredis would resolve it synchronously on every connect).
  public init(url: String) throws {
    if url.hasPrefix("unix://") {
      var rest = String(url.dropFirst("unix://".count))
      var database = 0
      if let question = rest.firstIndex(of: "?") {
        let query = rest[rest.index(after: question)...]
        rest = String(rest[..<question])
        for pair in query.split(separator: "&") {
          let parts = pair.split(separator: "=", maxSplits: 1)
          guard parts.count == 2, parts[0] == "db", let value = Int(parts[1]), value >= 0 else {
            throw RedisConfigurationError("unsupported query '\(pair)' in \(url) (only db=N)")
          }
          database = value
        }
      }
      guard rest.hasPrefix("/") else { throw RedisConfigurationError("unix socket path must be absolute: \(url)") }
      self.init(endpoint: .unix(path: rest))
      self.database = database
      return
    }
    guard url.hasPrefix("redis://") else {
      throw RedisConfigurationError("expected redis://host:port/db or unix:///path, got '\(url)'")
    }
    var rest = Substring(url.dropFirst("redis://".count))
    var username: String? = nil
    var password: String? = nil
    if let at = rest.lastIndex(of: "@") {
      let credentials = rest[..<at]
      rest = rest[rest.index(after: at)...]
      if let colon = credentials.firstIndex(of: ":") {
        let user = String(credentials[..<colon])
        username = user.isEmpty ? nil : RedisConfiguration.percentDecoded(user)
        password = RedisConfiguration.percentDecoded(String(credentials[credentials.index(after: colon)...]))
      } else {
        password = RedisConfiguration.percentDecoded(String(credentials))
      }
    }
    var database = 0
    if let slash = rest.firstIndex(of: "/") {
      let path = rest[rest.index(after: slash)...]
      rest = rest[..<slash]
      if !path.isEmpty {
        guard let value = Int(path), value >= 0 else {
          throw RedisConfigurationError("database must be a number, got '\(path)' in \(url)")
        }
        database = value
      }
    }
    var host = String(rest)
    var port = 6379
    if host.hasPrefix("[") {  // [::1]:6379
      guard let close = host.firstIndex(of: "]") else { throw RedisConfigurationError("unclosed [ in \(url)") }
      let after = host[host.index(after: close)...]
      if after.hasPrefix(":") {
        guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
          throw RedisConfigurationError("bad port in \(url)")
        }
        port = value
      }
      host = String(host[host.index(after: host.startIndex)..<close])
    } else if let colon = host.lastIndex(of: ":") {
      guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
        throw RedisConfigurationError("bad port in \(url)")
      }
      port = value
      host = String(host[..<colon])
    }
    guard !host.isEmpty else { throw RedisConfigurationError("no host in \(url)") }
    self.init(endpoint: .tcp(host: try RedisConfiguration.resolve(host), port: port))
    self.username = username
    self.password = password
    self.database = database
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

  /// Checks the numeric settings.
  public func validate() throws {
    guard poolSize >= 1 else { throw RedisConfigurationError("pool size must be at least 1, got \(poolSize)") }
    guard commandsPerWrite >= 1 else {
      throw RedisConfigurationError("commands per write must be at least 1, got \(commandsPerWrite)")
    }
    for (name, value) in [
      ("connect timeout", connectTimeout), ("command timeout", commandTimeout),
      ("reconnect base delay", reconnectBaseDelay), ("reconnect max delay", reconnectMaxDelay),
    ] where !(value > 0 && value.isFinite) {
      throw RedisConfigurationError("\(name) must be a positive number of seconds, got \(value)")
    }
    guard reconnectMaxDelay >= reconnectBaseDelay else {
      throw RedisConfigurationError("reconnect max delay must be at least the base delay")
    }
  }

  static func resolve(_ host: String) throws -> String {
    var probe = in6_addr()
    if inet_pton(AF_INET, host, &probe) == 1 || inet_pton(AF_INET6, host, &probe) == 1 { return host }
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>? = nil
    let status = getaddrinfo(host, nil, &hints, &result)
    guard status == 0, let first = result else {
      throw RedisConfigurationError("cannot resolve Redis host '\(host)': \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(result) }
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    if first.pointee.ai_family == AF_INET {
      var address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
      inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
    } else {
      var address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
      inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
    }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static func percentDecoded(_ text: String) -> String {
    guard text.contains("%") else { return text }
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
      if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
        let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
      {
        bytes.append(value)
      } else {
        bytes.append(byte)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// A Redis URL or setting that cannot be used.
public struct RedisConfigurationError: Error, CustomStringConvertible, Equatable {
  public let description: String
  init(_ description: String) { self.description = description }
}
