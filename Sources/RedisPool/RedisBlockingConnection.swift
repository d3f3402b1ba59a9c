import CHiredis

#if canImport(Glibc)
  import Glibc
#endif

/// One blocking hiredis connection to a single Redis, for work that owns a thread and no loop:
/// the invalidation listener and the bulk loader. Connects with the configuration's timeouts and
/// makes the pool's handshake (AUTH, SELECT, CLIENT SETNAME). Commands are queued with `append`
/// and leave together on `flush` (or with the next `reply`), so a caller can pipeline thousands.
public final class RedisBlockingConnection {
  /// Why a connection or a command failed: the connection is unusable after it.
  public struct Failure: Error, CustomStringConvertible {
    public let description: String
  }

  let context: UnsafeMutablePointer<redisContext>

  /// Connects to `configuration.endpoint` (a single Redis, or one node of a cluster) and makes
  /// the handshake; `select` sends SELECT for a database other than 0.
  public init(configuration: RedisConfiguration, select: Bool = true) throws {
    let timeout = timeval(seconds: configuration.connectTimeout)
    let connected: UnsafeMutablePointer<redisContext>?
    switch configuration.endpoint {
    case .tcp(let host, let port): connected = redisConnectWithTimeout(host, Int32(port), timeout)
    case .unix(let path): connected = redisConnectUnixWithTimeout(path, timeout)
    }
    guard let connected else { throw Failure(description: "out of memory") }
    // From here on deinit frees the context, also when this initializer throws.
    context = connected
    guard context.pointee.err == 0 else { throw Failure(description: errorText) }
    redisSetTimeout(context, timeval(seconds: max(configuration.connectTimeout, configuration.commandTimeout)))
    var steps: [[String]] = []
    if let password = configuration.password {
      steps.append(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
    }
    if select && configuration.database != 0 { steps.append(["SELECT", String(configuration.database)]) }
    steps.append(["CLIENT", "SETNAME", configuration.clientName])
    for step in steps { try command(step) }
  }

  deinit { redisFree(context) }

  /// The socket, for `poll`.
  public var descriptor: Int32 { context.pointee.fd }

  /// Seconds a reply may take from now on (0: wait for ever).
  public func setTimeout(seconds: Double) {
    redisSetTimeout(context, timeval(seconds: seconds))
  }

  /// Sends one command and waits for its reply; an error reply throws, naming the command.
  @discardableResult
  public func command(_ arguments: [String]) throws -> RedisValue {
    append(RedisCommand(arguments: arguments.map { Array($0.utf8) }))
    let value = try reply()
    if case .error(let message) = value {
      throw Failure(description: "\(arguments.prefix(2).joined(separator: " ")): \(message)")
    }
    return value
  }

  /// Queues `command` (it leaves with `flush` or the next `reply`).
  public func append(_ command: RedisCommand) {
    append(encoded: command.encoded)
  }

  /// Queues commands already encoded as RESP, back to back.
  public func append(encoded bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) { _ = redisAppendFormattedCommand(context, $0.baseAddress, $0.count) }
    }
  }

  /// Writes everything queued.
  public func flush() throws {
    var done: Int32 = 0
    while done == 0 {
      guard redisBufferWrite(context, &done) == REDIS_OK else { throw Failure(description: errorText) }
    }
  }

  /// The next reply, waiting for it (and writing what is queued first).
  public func reply() throws -> RedisValue {
    var raw: UnsafeMutableRawPointer? = nil
    guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw Failure(description: errorText) }
    defer { freeReplyObject(raw) }
    return RedisValue(reply: raw.assumingMemoryBound(to: redisReply.self))
  }

  /// The next reply, looked at in place (nothing of it may be kept).
  public func withReply<T>(_ body: (RedisReplyView) throws -> T) throws -> T {
    var raw: UnsafeMutableRawPointer? = nil
    guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw Failure(description: errorText) }
    defer { freeReplyObject(raw) }
    return try body(RedisReplyView(raw.assumingMemoryBound(to: redisReply.self)))
  }

  /// Reads what has arrived without waiting (after `poll` said the socket is readable); false
  /// when the connection failed or closed.
  public func readAvailable() -> Bool {
    redisBufferRead(context) == REDIS_OK
  }

  /// A reply already read by `readAvailable`, looked at in place; nil when none is complete.
  func withBufferedReply<T>(_ body: (UnsafePointer<redisReply>) -> T) throws -> T? {
    var raw: UnsafeMutableRawPointer? = nil
    guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw Failure(description: errorText) }
    guard let raw else { return nil }
    defer { freeReplyObject(raw) }
    return body(raw.assumingMemoryBound(to: redisReply.self))
  }

  private var errorText: String {
    guard context.pointee.err != 0 else { return "no reply" }
    return withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
  }
}

extension timeval {
  init(seconds: Double) {
    let whole = seconds.isFinite ? max(0, min(86400, seconds)) : 1
    self.init(tv_sec: Int(whole), tv_usec: Int((whole - whole.rounded(.down)) * 1_000_000))
  }
}
