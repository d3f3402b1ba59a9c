import CHiredis

#if canImport(Glibc)
  import Glibc
#endif

/// Reads a cluster's topology from one node with a short-lived blocking hiredis connection. It
/// runs on the topology monitor's own thread, never on a loop.
enum ClusterTopologyReader {
  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  /// Asks the node at `host:port` for `CLUSTER SHARDS` (or `CLUSTER SLOTS` where SHARDS is
  /// unknown), authenticating as `configuration` says.
  static func read(host: String, port: Int, configuration: RedisConfiguration) throws -> ClusterTopology {
    let seconds = configuration.connectTimeout
    let timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
    guard let context = redisConnectWithTimeout(host, Int32(port), timeout) else {
      throw Failure(description: "cannot allocate a hiredis context")
    }
    defer { redisFree(context) }
    if context.pointee.err != 0 { throw Failure(description: errorText(context)) }
    // Replies must come within the command timeout too (a node that accepts and then hangs).
    let replyTimeout = max(configuration.commandTimeout, seconds)
    _ = redisSetTimeout(
      context, timeval(tv_sec: Int(replyTimeout), tv_usec: Int((replyTimeout - replyTimeout.rounded(.down)) * 1e6)))
    if let password = configuration.password {
      let arguments = configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
      if case .error(let message) = try command(context, arguments) { throw Failure(description: "AUTH: \(message)") }
    }
    let shards = try command(context, ["CLUSTER", "SHARDS"])
    if case .error(let message) = shards {
      // Redis before 7.0 knows only CLUSTER SLOTS.
      guard message.uppercased().contains("UNKNOWN") else { throw Failure(description: message) }
      let slots = try command(context, ["CLUSTER", "SLOTS"])
      if case .error(let message) = slots { throw Failure(description: message) }
      return try ClusterTopology.fromSlots(slots, queriedHost: host)
    }
    return try ClusterTopology.fromShards(shards, queriedHost: host)
  }

  private static func command(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [String]) throws
    -> RedisValue
  {
    let copies = arguments.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    var pointers = copies.map { UnsafePointer<CChar>($0) }
    var lengths = arguments.map { $0.utf8.count }
    guard let raw = redisCommandArgv(context, Int32(arguments.count), &pointers, &lengths) else {
      throw Failure(description: errorText(context))
    }
    defer { freeReplyObject(raw) }
    return RedisValue(reply: raw.assumingMemoryBound(to: redisReply.self))
  }

  private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
    withUnsafeBytes(of: context.pointee.errstr) { bytes in
      let text = bytes.prefix { $0 != 0 }
      return text.isEmpty ? "connection failed" : String(decoding: text, as: UTF8.self)
    }
  }
}
