import Codecs

/// One Redis command, encoded once as RESP (binary safe). Build it off the hot path and reuse it
/// where the same command repeats.
public struct RedisCommand: Sendable, CustomStringConvertible {
  /// The RESP bytes sent on the wire.
  public let encoded: [UInt8]
  /// The command name (first argument), for errors and metrics.
  public let name: String
  /// Where the key's bytes are in `encoded` when the builder was told which argument is the key
  /// (`init(_:key:)`, `init(_:key:tail:)`: every read on a hot path), else -1: routing in a
  /// cluster then hashes them at once instead of parsing the command and finding its key by
  /// name (~2 300 instructions a command, most of /predict's routing cost on a cluster).
  private let keyStart: Int32
  private let keyEnd: Int32
  /// The cluster slot of the command's key, nil for a command without one (PING, MULTI): the
  /// pool routes a command by it in a cluster. Read from `encoded` when asked (a single Redis
  /// never asks, and building a command stays as cheap as before clusters).
  public var slot: UInt16? {
    if keyStart >= 0 { return ClusterSlot.of(encoded[Int(keyStart)..<Int(keyEnd)]) }
    let arguments = argumentRanges()
    guard let position = Self.keyPosition(name: name, count: arguments.count, argument: { encoded[arguments[$0]] })
    else { return nil }
    return ClusterSlot.of(encoded[arguments[position]])
  }

  /// True for a command that only reads, which a cluster may send to a replica.
  public var isReadOnly: Bool { Self.readOnlyNames.contains(name) }

  /// Where each argument's bytes are in `encoded` (RESP: `*N`, then `$len` and the bytes each).
  private func argumentRanges() -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var index = 1
    func number() -> Int {
      var value = 0
      while index < encoded.count, encoded[index] != 13 {
        value = value &* 10 &+ Int(encoded[index] &- 48)
        index += 1
      }
      index += 2  // CRLF
      return value
    }
    let count = number()
    ranges.reserveCapacity(count)
    for _ in 0..<count {
      index += 1  // $
      let length = number()
      let start = min(index, encoded.count)
      let end = min(start + length, encoded.count)
      ranges.append(start..<end)
      index = end + 2
    }
    return ranges
  }

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
    DecimalDigits.append(arguments.count, to: &bytes)
    bytes.append(13)
    bytes.append(10)
    for argument in arguments { Self.appendBulk(argument, to: &bytes) }
    encoded = bytes
    name = Self.commandName(arguments[0])
    (keyStart, keyEnd) = (-1, -1)
  }

  /// The command name in capitals, for errors, metrics and the read-only list. Names are ASCII
  /// and usually written in capitals already: then no String is upper-cased (a cache miss builds
  /// two commands per request).
  static func commandName(_ bytes: [UInt8]) -> String {
    let isLower: (UInt8) -> Bool = { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }
    guard bytes.contains(where: isLower) else { return String(decoding: bytes, as: UTF8.self) }
    return String(decoding: bytes.map { isLower($0) ? $0 - 32 : $0 }, as: UTF8.self)
  }

  /// Arguments encoded once and reused in many commands (the fields of an HMGET that every read
  /// of a feature view asks for).
  public struct EncodedArguments: Sendable {
    public private(set) var count = 0
    private(set) var bytes: [UInt8] = []

    public init() {}

    /// Empty, with room for `capacity` encoded bytes.
    public init(reservingCapacity capacity: Int) {
      bytes.reserveCapacity(capacity)
    }

    public init(_ arguments: [[UInt8]]) {
      for argument in arguments { append(argument) }
    }

    /// Adds one argument at the end.
    public mutating func append(_ argument: [UInt8]) {
      argument.withUnsafeBytes { append($0) }
    }

    /// Adds one argument at the end.
    public mutating func append(_ argument: UnsafeRawBufferPointer) {
      RedisCommand.appendBulk(argument, to: &bytes)
      count += 1
    }

    /// Adds another list's arguments at the end.
    public mutating func append(_ other: EncodedArguments) {
      bytes.append(contentsOf: other.bytes)
      count += other.count
    }

    /// Adds an integer as a decimal argument, without making a String.
    public mutating func append(decimal value: Int64) {
      var digits: [UInt8] = []
      if value < 0 { digits.append(UInt8(ascii: "-")) }
      DecimalDigits.append(value.magnitude, to: &digits)
      append(digits)
    }

    /// Empties it, keeping its memory for the next command.
    public mutating func removeAll() {
      bytes.removeAll(keepingCapacity: true)
      count = 0
    }
  }

  /// `name key tail...`, with the tail already encoded: one copy of it per command.
  public init(_ name: String, key: [UInt8], tail: EncodedArguments) {
    self.init(name, head: [key], tail: tail, firstIsKey: true)
  }

  /// The start of a `NAME key` command, encoded once (`*2`, then the name's bulk string), so the
  /// reads that run for every cache miss (HGETALL, HVALS of one key) build a command with one
  /// allocation: no argument array, no name to upper-case.
  public struct OneKeyHead: Sendable {
    let name: String
    let bytes: [UInt8]

    /// `name` as written in capitals (`"HGETALL"`).
    public init(_ name: String) {
      self.name = RedisCommand.commandName(Array(name.utf8))
      var bytes: [UInt8] = [UInt8(ascii: "*"), UInt8(ascii: "2"), 13, 10]
      RedisCommand.appendBulk(Array(self.name.utf8), to: &bytes)
      self.bytes = bytes
    }
  }

  /// `head key`: the one-key command `head` names.
  public init(_ head: OneKeyHead, key: [UInt8]) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(head.bytes.count + key.count + 24)
    bytes.append(contentsOf: head.bytes)
    Self.appendBulk(key, to: &bytes)
    (keyStart, keyEnd) = Self.range(ofLast: key.count, endingBefore: bytes.count - 2)
    encoded = bytes
    name = head.name
  }

  /// The range of the `count` bytes that end at `end`, as stored: -1 when `end` does not fit
  /// (a command of 2 GiB is beyond any Redis's limit; it is then routed the slow way).
  private static func range(ofLast count: Int, endingBefore end: Int) -> (Int32, Int32) {
    guard let start = Int32(exactly: end - count), let end = Int32(exactly: end) else { return (-1, -1) }
    return (start, end)
  }

  /// `name head... tail...`, with the tail already encoded.
  public init(_ name: String, head: [[UInt8]], tail: EncodedArguments) {
    self.init(name, head: head, tail: tail, firstIsKey: false)
  }

  private init(_ name: String, head: [[UInt8]], tail: EncodedArguments, firstIsKey: Bool) {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(32 + name.utf8.count + head.reduce(0) { $0 + $1.count + 16 } + tail.bytes.count)
    bytes.append(UInt8(ascii: "*"))
    DecimalDigits.append(1 + head.count + tail.count, to: &bytes)
    bytes.append(13)
    bytes.append(10)
    Self.appendBulk(Array(name.utf8), to: &bytes)
    var key: (Int32, Int32) = (-1, -1)
    for (index, argument) in head.enumerated() {
      Self.appendBulk(argument, to: &bytes)
      if firstIsKey && index == 0 { key = Self.range(ofLast: argument.count, endingBefore: bytes.count - 2) }
    }
    (keyStart, keyEnd) = key
    bytes.append(contentsOf: tail.bytes)
    encoded = bytes
    self.name = name
  }

  /// Where a command's (first) key is among its arguments, nil when it has none. Every command
  /// the server sends has one key, or all its keys in one slot (hash tags).
  static func keyPosition(name: String, count: Int, argument: (Int) -> ArraySlice<UInt8>) -> Int? {
    switch name {
    case "PING", "INFO", "MULTI", "EXEC", "DISCARD", "CLIENT", "AUTH", "SELECT", "CLUSTER", "ASKING", "READONLY",
      "READWRITE", "SCRIPT", "FLUSHALL", "FLUSHDB", "DBSIZE", "CONFIG", "COMMAND", "HELLO", "ECHO", "TIME",
      "SLOWLOG", "DEBUG", "FUNCTION", "WAIT":
      return nil
    case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
      // name script numkeys key...: keyless when numkeys is 0.
      guard count > 3, let keys = Int(String(decoding: argument(2), as: UTF8.self)), keys > 0 else {
        return nil
      }
      return 3
    case "XGROUP", "XINFO":
      // XGROUP CREATE key group …, XINFO GROUPS key.
      return count > 2 ? 2 : nil
    case "XREAD", "XREADGROUP":
      guard
        let streams = (0..<count).first(where: {
          String(decoding: argument($0), as: UTF8.self).uppercased() == "STREAMS"
        }),
        streams + 1 < count
      else { return nil }
      return streams + 1
    default:
      return count > 1 ? 1 : nil
    }
  }

  /// Commands that only read: in a cluster they may go to a replica.
  static let readOnlyNames: Set<String> = [
    "GET", "MGET", "HGET", "HMGET", "HGETALL", "HLEN", "HEXISTS", "HKEYS", "HVALS", "EXISTS", "TTL", "PTTL", "TYPE",
    "STRLEN", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZSCORE", "ZCARD", "ZCOUNT", "LRANGE", "LLEN", "SMEMBERS",
    "SCARD", "SISMEMBER", "XRANGE", "XREVRANGE", "XLEN", "EVAL_RO", "EVALSHA_RO", "FCALL_RO",
  ]

  static func appendBulk(_ argument: [UInt8], to bytes: inout [UInt8]) {
    argument.withUnsafeBytes { appendBulk($0, to: &bytes) }
  }

  static func appendBulk(_ argument: UnsafeRawBufferPointer, to bytes: inout [UInt8]) {
    // Byte by byte, not through a String or an array literal: the loader encodes millions.
    bytes.append(UInt8(ascii: "$"))
    DecimalDigits.append(argument.count, to: &bytes)
    bytes.append(13)
    bytes.append(10)
    bytes.append(contentsOf: argument)
    bytes.append(13)
    bytes.append(10)
  }

  /// Appends `name key tail...` as RESP to `bytes`: for a caller that pipelines many commands
  /// as one buffer (the loader) instead of one `RedisCommand` each.
  public static func encode(_ name: [UInt8], key: [UInt8], tail: EncodedArguments, into bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "*"))
    DecimalDigits.append(2 + tail.count, to: &bytes)
    bytes.append(13)
    bytes.append(10)
    appendBulk(name, to: &bytes)
    appendBulk(key, to: &bytes)
    bytes.append(contentsOf: tail.bytes)
  }

  public var description: String { name }
}
