import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// One parsed HTTP request, as a handler sees it.
public struct HTTPRequest: Sendable {
  public var method: HTTPMethod
  /// The request target exactly as sent, e.g. `/features/customer/42?features=a,b`.
  public var target: String
  public var version: HTTPVersion
  public var headers: HTTPHeaders
  /// The whole body (already de-chunked), empty when there is none.
  public var body: [UInt8]
  /// Path parameters captured by the router, e.g. `id` for `/features/:entity/:id`.
  public var parameters: PathParameters
  /// The pattern of the route that matched, e.g. `/features/:entity/:id` (for metrics labels).
  public var routePattern: String? = nil

  public init(
    method: HTTPMethod, target: String, version: HTTPVersion = .http1_1,
    headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], parameters: PathParameters = PathParameters()
  ) {
    self.method = method
    self.target = target
    self.version = version
    self.headers = headers
    self.body = body
    self.parameters = parameters
  }

  /// The path part of the target (before `?`), still percent-encoded.
  public var path: Substring {
    if let question = questionMark { return target[..<question] }
    return target[...]
  }

  /// The raw query string (after `?`), or nil.
  public var query: Substring? {
    guard let question = questionMark else { return nil }
    return target[target.utf8.index(after: question)...]
  }

  /// Where the target's `?` is: found with memchr in the target's contiguous bytes (every GET
  /// asks, most have none).
  private var questionMark: String.Index? {
    let offset = target.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
      guard let base = bytes.baseAddress, let found = memchr(base, Int32(UInt8(ascii: "?")), bytes.count) else {
        return nil
      }
      return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
    guard let offset else { return target.utf8.firstIndex(of: UInt8(ascii: "?")) }
    return offset.map { target.utf8.index(target.utf8.startIndex, offsetBy: $0) }
  }

  /// The query's name/value pairs, percent-decoded (`+` is a space), in order. Pairs that are
  /// not valid percent-encoding are left out.
  public var queryItems: [(name: String, value: String)] {
    guard let query else { return [] }
    var items: [(name: String, value: String)] = []
    for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard let name = PercentDecoding.decode(parts[0], plusAsSpace: true) else { continue }
      let value = parts.count > 1 ? PercentDecoding.decode(parts[1], plusAsSpace: true) : ""
      if let value { items.append((name: name, value: value)) }
    }
    return items
  }

  /// The first value of query parameter `name`.
  public func queryItem(_ name: String) -> String? {
    queryItems.first { $0.name == name }?.value
  }
}

/// Path parameters captured by the router, in pattern order. Routes have one or two, so two are
/// held inline (no array per request); more go to an array.
public struct PathParameters: Sendable {
  private var first: (name: String, value: String)? = nil
  private var second: (name: String, value: String)? = nil
  private var rest: [(name: String, value: String)] = []

  public init() {}

  mutating func append(name: String, value: String) {
    if first == nil {
      first = (name, value)
    } else if second == nil {
      second = (name, value)
    } else {
      rest.append((name, value))
    }
  }

  /// The decoded value captured for `:name`.
  public subscript(name: String) -> String? {
    if let first, first.name == name { return first.value }
    if let second, second.name == name { return second.value }
    for item in rest where item.name == name { return item.value }
    return nil
  }

  public var count: Int { (first == nil ? 0 : 1) + (second == nil ? 0 : 1) + rest.count }
}
