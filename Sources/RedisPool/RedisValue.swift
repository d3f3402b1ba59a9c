import CHiredis

/// A decoded Redis reply.
public enum RedisValue: Equatable, Sendable {
  /// A bulk string: binary-safe bytes.
  case bulk([UInt8])
  /// A status reply such as `OK`.
  case status(String)
  case integer(Int64)
  case array([RedisValue])
  /// The nil bulk string or nil array (a missing key).
  case null
  /// An error reply such as `WRONGTYPE ...`; the command reached Redis and Redis refused it.
  case error(String)

  /// The value as UTF-8 text, for bulk strings and status replies.
  public var text: String? {
    switch self {
    case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
    case .status(let text): text
    default: nil
    }
  }

  /// Decodes a hiredis reply, copying what it holds (hiredis frees it when the callback returns).
  init(reply: UnsafePointer<redisReply>) {
    let node = reply.pointee
    switch node.type {
    case REDIS_REPLY_STRING:
      self = .bulk(RedisValue.bytes(node.str, node.len))
    case REDIS_REPLY_STATUS:
      self = .status(String(decoding: RedisValue.bytes(node.str, node.len), as: UTF8.self))
    case REDIS_REPLY_ERROR:
      self = .error(String(decoding: RedisValue.bytes(node.str, node.len), as: UTF8.self))
    case REDIS_REPLY_INTEGER:
      self = .integer(Int64(node.integer))
    case REDIS_REPLY_ARRAY:
      var elements: [RedisValue] = []
      elements.reserveCapacity(Int(node.elements))
      for index in 0..<Int(node.elements) {
        if let element = node.element[index] {
          elements.append(RedisValue(reply: element))
        } else {
          elements.append(.null)
        }
      }
      self = .array(elements)
    default:
      self = .null
    }
  }

  private static func bytes(_ pointer: UnsafeMutablePointer<CChar>?, _ count: Int) -> [UInt8] {
    guard let pointer, count > 0 else { return [] }
    return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
  }
}
