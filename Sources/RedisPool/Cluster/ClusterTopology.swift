/// Which nodes a cluster has and which primary owns each slot, as `CLUSTER SHARDS` (Redis 7) or
/// `CLUSTER SLOTS` (older servers) describe it. Immutable: a refresh builds a new one.
public struct ClusterTopology: Sendable, Equatable {
  public struct Node: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The node's cluster id (40 hex characters), empty when the reply did not give one.
    public var id: String
    public var isPrimary: Bool
    /// False for a node the cluster marks failed (or still loading): no connection goes there.
    public var isHealthy: Bool
    /// The primary this replica follows (an index into `nodes`); nil for primaries.
    public var primary: Int?

    public var address: String { ClusterTopology.address(host: host, port: port) }
  }

  public private(set) var nodes: [Node] = []
  /// The primary that owns each slot (an index into `nodes`), or `unowned`.
  public private(set) var slotOwners: [Int16] = Array(repeating: ClusterTopology.unowned, count: ClusterSlot.count)

  /// The mark of a slot no node serves.
  public static let unowned: Int16 = -1

  /// Slots some node serves.
  public var slotsCovered: Int { slotOwners.reduce(0) { $0 + ($1 == Self.unowned ? 0 : 1) } }

  /// Slots whose primary is healthy: what the cluster can serve.
  public var slotsServed: Int {
    slotOwners.reduce(0) { $0 + ($1 != Self.unowned && nodes[Int($1)].isHealthy ? 1 : 0) }
  }

  /// The node at `address` (`host:port`), if the topology knows it.
  public func node(at address: String) -> Int? {
    nodes.firstIndex { $0.address == address }
  }

  /// The healthy replicas of primary `index`.
  public func replicas(of index: Int) -> [Int] {
    nodes.indices.filter { nodes[$0].primary == index && nodes[$0].isHealthy && !nodes[$0].isPrimary }
  }

  /// The key the nodes are known by: `host:port`.
  static func address(host: String, port: Int) -> String { "\(host):\(port)" }

  // MARK: Building

  public init() {}

  /// Nodes a topology may list: Redis Cluster's own recommended limit is 1 000; slot owners are
  /// kept as Int16, so a reply naming more is refused instead of trapping.
  static let maxNodes = 4096

  /// Adds a node once (by address), keeping the healthier and more specific description.
  private mutating func addNode(_ node: Node) throws -> Int {
    if let existing = self.node(at: node.address) {
      if node.isPrimary && !nodes[existing].isPrimary && node.isHealthy { nodes[existing] = node }
      return existing
    }
    guard nodes.count < Self.maxNodes else { throw ParseError("more than \(Self.maxNodes) nodes") }
    nodes.append(node)
    return nodes.count - 1
  }

  private mutating func assign(_ range: ClosedRange<Int>, to owner: Int) {
    for slot in range { slotOwners[slot] = Int16(owner) }
  }

  /// The same topology with its nodes in address order: nodes list shards in whatever order
  /// they like, and two reads of an unchanged cluster must compare equal.
  func normalized() -> ClusterTopology {
    let order = nodes.indices.sorted { nodes[$0].address < nodes[$1].address }
    var newIndex = Array(repeating: 0, count: nodes.count)
    for (position, old) in order.enumerated() { newIndex[old] = position }
    var result = ClusterTopology()
    result.nodes = order.map { old in
      var node = nodes[old]
      node.primary = node.primary.map { newIndex[$0] }
      return node
    }
    result.slotOwners = slotOwners.map { $0 == Self.unowned ? $0 : Int16(newIndex[Int($0)]) }
    return result
  }

  // MARK: Parsing

  /// Why a topology reply could not be read.
  public struct ParseError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
  }

  /// Reads a `CLUSTER SHARDS` reply (RESP2: each shard a flat list of name/value pairs with
  /// `slots` as start/end pairs and `nodes` as name/value lists). `queriedHost` stands in for a
  /// node that announces an empty address, as Redis asks clients to do.
  public static func fromShards(_ reply: RedisValue, queriedHost: String) throws -> ClusterTopology {
    guard case .array(let shards) = reply else { throw ParseError("CLUSTER SHARDS did not answer a list") }
    var topology = ClusterTopology()
    for shard in shards {
      let fields = try pairs(shard, what: "a shard")
      guard case .array(let slotBounds)? = fields["slots"], case .array(let nodeList)? = fields["nodes"] else {
        throw ParseError("a shard without slots or nodes")
      }
      var parsed: [(node: Node, primary: Bool)] = []
      for entry in nodeList {
        let values = try pairs(entry, what: "a node")
        guard case .integer(let port)? = values["port"] ?? values["tls-port"], (1...65535).contains(port) else {
          throw ParseError("a node without a valid port")
        }
        var host = values["ip"]?.text ?? ""
        if host.isEmpty || host == "?" { host = queriedHost }
        let role = values["role"]?.text ?? ""
        let health = values["health"]?.text ?? "online"
        let node = Node(
          host: host, port: Int(port), id: values["id"]?.text ?? "", isPrimary: role == "master",
          isHealthy: health == "online", primary: nil)
        parsed.append((node, role == "master"))
      }
      // A failed old master can be listed beside the replica that took its place: the owner is
      // the healthy primary, else the first primary listed.
      let ownerPosition =
        parsed.firstIndex { $0.primary && $0.node.isHealthy } ?? parsed.firstIndex { $0.primary }
      var ownerIndex: Int? = nil
      if let ownerPosition { ownerIndex = try topology.addNode(parsed[ownerPosition].node) }
      for (position, entry) in parsed.enumerated() where position != ownerPosition {
        var node = entry.node
        if !node.isPrimary { node.primary = ownerIndex }
        _ = try topology.addNode(node)
      }
      guard slotBounds.count % 2 == 0 else { throw ParseError("a shard's slots are not start/end pairs") }
      if !slotBounds.isEmpty {
        guard let ownerIndex else { throw ParseError("a shard serves slots but lists no primary") }
        var position = 0
        while position < slotBounds.count {
          let range = try slotRange(slotBounds[position], slotBounds[position + 1])
          topology.assign(range, to: ownerIndex)
          position += 2
        }
      }
    }
    return topology.normalized()
  }

  /// Reads a `CLUSTER SLOTS` reply: `[start, end, [host, port, id...], [replica...]...]` per range.
  public static func fromSlots(_ reply: RedisValue, queriedHost: String) throws -> ClusterTopology {
    guard case .array(let ranges) = reply else { throw ParseError("CLUSTER SLOTS did not answer a list") }
    var topology = ClusterTopology()
    for range in ranges {
      guard case .array(let items) = range, items.count >= 3 else { throw ParseError("a slot range without a node") }
      let slots = try slotRange(items[0], items[1])
      var owner: Int? = nil
      for (position, item) in items.dropFirst(2).enumerated() {
        guard case .array(let description) = item, description.count >= 2,
          case .integer(let port) = description[1], (1...65535).contains(port)
        else { throw ParseError("a node without host and port") }
        var host = description[0].text ?? ""
        if host.isEmpty || host == "?" { host = queriedHost }
        let id = description.count > 2 ? description[2].text ?? "" : ""
        let node = Node(
          host: host, port: Int(port), id: id, isPrimary: position == 0, isHealthy: true,
          primary: position == 0 ? nil : owner)
        let index = try topology.addNode(node)
        if position == 0 { owner = index }
      }
      if let owner { topology.assign(slots, to: owner) }
    }
    return topology.normalized()
  }

  private static func slotRange(_ start: RedisValue, _ end: RedisValue) throws -> ClosedRange<Int> {
    guard case .integer(let first) = start, case .integer(let last) = end, first >= 0, first <= last,
      last < ClusterSlot.count
    else { throw ParseError("a slot range outside 0...16383") }
    return Int(first)...Int(last)
  }

  /// A RESP2 map (a flat list of name, value, name, value...) as a dictionary.
  private static func pairs(_ value: RedisValue, what: String) throws -> [String: RedisValue] {
    guard case .array(let items) = value, items.count % 2 == 0 else { throw ParseError("\(what) is not a map") }
    var result: [String: RedisValue] = [:]
    var position = 0
    while position < items.count {
      guard let name = items[position].text else { throw ParseError("\(what) has a non-text field name") }
      result[name] = items[position + 1]
      position += 2
    }
    return result
  }
}
