/// One Redis command, encoded once as RESP (binary safe). Build it off the hot path and reuse it
/// where the same command repeats.
public struct RedisCommand: Sendable, CustomStringConvertible {
  /// The RESP bytes sent on the wire.
  public let encoded: [UInt8]
  /// The command name (first argument), for errors and metrics.
  public let name: String

  /// A command from its arguments, e.g. `RedisCommand("HGETALL", "fs:customer:42")`.
  public init(_ arguments: String...) {
    self.init(arguments: arguments.map { Array($0.utf8) })
  }

  /// A command from binary arguments.
  public init(arguments: [[UInt8]]) {
    precondition(!arguments.isEmpty, "a Redis command needs a name")
    var bytes: [UInt8] = []
    bytes.reserveCapacity(16 + arguments.reduce(0) { $0 + $1.count + 16 })
    bytes.append(UInt8(ascii: "*"))
    bytes.append(contentsOf: String(arguments.count).utf8)
    bytes.append(contentsOf: [13, 10])
    for argument in arguments {
      bytes.append(UInt8(ascii: "$"))
      bytes.append(contentsOf: String(argument.count).utf8)
      bytes.append(contentsOf: [13, 10])
      bytes.append(contentsOf: argument)
      bytes.append(contentsOf: [13, 10])
    }
    encoded = bytes
    name = String(decoding: arguments[0], as: UTF8.self).uppercased()
  }

  public var description: String { name }
}
