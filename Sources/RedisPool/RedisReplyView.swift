import CHiredis

/// A hiredis reply read in place, without copying it into a `RedisValue`. It borrows memory that
/// hiredis frees when the reply callback returns, so it is only valid inside that callback:
/// decode what you need there and never keep the view.
///
/// The hot read path uses it to turn an HGETALL reply into a typed row without allocating an
/// array and two byte arrays per field first.
public struct RedisReplyView {
  /// What kind of reply this is.
  public enum Kind: Equatable, Sendable {
    case bulk, status, error, integer, array, null
  }

  private let node: UnsafePointer<redisReply>

  init(_ node: UnsafePointer<redisReply>) {
    self.node = node
  }

  public var kind: Kind {
    switch node.pointee.type {
    case REDIS_REPLY_STRING: .bulk
    case REDIS_REPLY_STATUS: .status
    case REDIS_REPLY_ERROR: .error
    case REDIS_REPLY_INTEGER: .integer
    case REDIS_REPLY_ARRAY: .array
    default: .null
    }
  }

  /// The bytes of a bulk string, status or error reply (empty for other kinds).
  public var bytes: UnsafeRawBufferPointer {
    let reply = node.pointee
    guard let start = reply.str, reply.len > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: start, count: reply.len)
  }

  /// The value of an integer reply (0 for other kinds).
  public var integer: Int64 {
    node.pointee.type == REDIS_REPLY_INTEGER ? Int64(node.pointee.integer) : 0
  }

  /// The number of elements of an array reply (0 for other kinds).
  public var count: Int {
    node.pointee.type == REDIS_REPLY_ARRAY ? Int(node.pointee.elements) : 0
  }

  /// Element `index` of an array reply; the caller keeps `index` below `count`.
  public subscript(index: Int) -> RedisReplyView? {
    guard index >= 0, index < count, let element = node.pointee.element[index] else { return nil }
    return RedisReplyView(element)
  }
}

/// A reply to read in place, or why there is none.
public typealias RedisReplyResult = Result<RedisReplyView, RedisError>

/// A command whose reply is read in place by its completion (see `RedisReplyView`), for
/// `RedisLoopPool.send(viewingBatch:)`. A struct rather than a tuple: a closure kept in a tuple
/// inside an array is stored in its most general form and wrapped in a new thunk (an allocation)
/// each time it goes in or comes out.
public struct RedisViewRequest {
  public let command: RedisCommand
  public let completion: (RedisReplyResult) -> Void

  public init(_ command: RedisCommand, completion: @escaping (RedisReplyResult) -> Void) {
    self.command = command
    self.completion = completion
  }
}
