/// A cluster error reply that says where a command must go instead, or that it must wait.
public enum ClusterRedirect: Equatable, Sendable {
  /// `-MOVED <slot> <host>:<port>`: the slot lives on another node now; update the map.
  case moved(slot: UInt16, address: String)
  /// `-ASK <slot> <host>:<port>`: the slot is migrating and this key is already on the target:
  /// send `ASKING` and the command there, once; the map stays.
  case ask(slot: UInt16, address: String)
  /// `-TRYAGAIN`: a multi-key command met a slot in the middle of a migration; retry shortly.
  case tryAgain
  /// `-CLUSTERDOWN`: the cluster cannot serve (a master failed and no replica has taken over).
  case clusterDown(String)

  /// The kinds, for the redirect counters.
  public enum Kind: Int, CaseIterable, Sendable {
    case moved, ask, tryAgain, clusterDown

    /// The metric label.
    public var label: String {
      switch self {
      case .moved: "moved"
      case .ask: "ask"
      case .tryAgain: "tryagain"
      case .clusterDown: "clusterdown"
      }
    }
  }

  public var kind: Kind {
    switch self {
    case .moved: .moved
    case .ask: .ask
    case .tryAgain: .tryAgain
    case .clusterDown: .clusterDown
    }
  }

  /// The redirect an error reply's text carries, or nil for any other error (which the caller
  /// gets as it is).
  public init?<Bytes: Collection>(errorText: Bytes) where Bytes.Element == UInt8 {
    guard let first = errorText.first else { return nil }
    // Cheap first-byte test: most error replies (WRONGTYPE, NOSCRIPT...) stop here.
    guard
      first == UInt8(ascii: "M") || first == UInt8(ascii: "A") || first == UInt8(ascii: "T")
        || first == UInt8(ascii: "C")
    else { return nil }
    let text = String(decoding: errorText.prefix(512), as: UTF8.self)
    let parts = text.split(separator: " ", omittingEmptySubsequences: true)
    switch parts.first {
    case "MOVED", "ASK":
      guard parts.count >= 3, let slot = UInt16(parts[1]), Int(slot) < ClusterSlot.count,
        let address = ClusterRedirect.normalizedAddress(parts[2])
      else { return nil }
      self = parts[0] == "MOVED" ? .moved(slot: slot, address: address) : .ask(slot: slot, address: address)
    case "TRYAGAIN":
      self = .tryAgain
    case "CLUSTERDOWN":
      self = .clusterDown(text)
    default:
      return nil
    }
  }

  /// `host:port` as the topology names nodes (IPv6 hosts without brackets); nil when it is not
  /// an address. Redis sends `:port` when the node does not know its own address: the caller
  /// then cannot follow it (the topology refresh will).
  static func normalizedAddress(_ text: Substring) -> String? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (1...65535).contains(port)
    else { return nil }
    var host = text[..<colon]
    if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
    guard !host.isEmpty else { return nil }
    return ClusterTopology.address(host: String(host), port: port)
  }
}
