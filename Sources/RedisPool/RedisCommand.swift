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
    for argument in arguments { Self.appendBulk(argument, to: &bytes) }
    encoded = bytes
    name = String(decoding: arguments[0], as: UTF8.self).uppercased()
  }

  /// Arguments encoded once and reused in many commands (the fields of an HMGET that every read
  /// of a feature view asks for).
  public struct EncodedArguments: Sendable {
    let count: Int
    let bytes: [UInt8]

    public init(_ arguments: [[UInt8]]) {
      var bytes: [UInt8] = []
      for argument in arguments { RedisCommand.appendBulk(argument, to: &bytes) }
      self.count = arguments.count
      self.bytes = bytes
    }
  }

  /// `name key tail...`, with the tail already encoded: one copy of it per command.
  public init(_ name: String, key: [UInt8], tail: EncodedArguments) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(32 + name.utf8.count + key.count + tail.bytes.count)
    bytes.append(UInt8(ascii: "*"))
    bytes.append(contentsOf: String(2 + tail.count).utf8)
    bytes.append(contentsOf: [13, 10])
    Self.appendBulk(Array(name.utf8), to: &bytes)
    Self.appendBulk(key, to: &bytes)
    bytes.append(contentsOf: tail.bytes)
    encoded = bytes
    self.name = name
  }

  static func appendBulk(_ argument: [UInt8], to bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "$"))
    bytes.append(contentsOf: String(argument.count).utf8)
    bytes.append(contentsOf: [13, 10])
    bytes.append(contentsOf: argument)
    bytes.append(contentsOf: [13, 10])
  }

  public var description: String { name }
}
