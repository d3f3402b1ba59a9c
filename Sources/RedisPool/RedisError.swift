/// Why a command got no reply. An error *reply* from Redis is not an error here: it arrives as
/// `RedisValue.error`.
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
  /// This loop has no live connection right now (Redis down, or reconnecting): the command was
  /// not sent. Fail fast instead of queueing without bound.
  case unavailable
  /// No reply within the command timeout; the connection was reset.
  case timeout
  /// The connection broke before the reply came; the command may or may not have run.
  case connectionLost(String)
  /// The pool is closed.
  case closed
  /// Too many commands are in flight already (`maxInFlight`): the command was not sent.
  case overloaded
  /// A Redis Cluster could not serve the command: no reachable node owns its slot, the cluster
  /// answered CLUSTERDOWN, or it was redirected more than `clusterMaxRedirects` times.
  case clusterUnavailable(String)

  public var description: String {
    switch self {
    case .unavailable: "Redis unavailable: no live connection on this loop"
    case .timeout: "Redis command timed out"
    case .connectionLost(let reason): "Redis connection lost: \(reason)"
    case .closed: "Redis pool closed"
    case .overloaded: "too many Redis commands in flight"
    case .clusterUnavailable(let reason): "Redis Cluster unavailable: \(reason)"
    }
  }
}

/// The outcome of one command.
public typealias RedisResult = Result<RedisValue, RedisError>
