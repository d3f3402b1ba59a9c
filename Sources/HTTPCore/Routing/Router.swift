import Codecs

#if canImport(Glibc)
  import Glibc
#endif

/// Handles one request: answer through the responder now or later (after a Redis reply, a
/// timer...), exactly once, on the responder's loop or from any thread.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPResponder) -> Void

/// A trie router over path segments: literal segments, `:name` parameters and a trailing `*name`
/// wildcard, with handlers per method. Literals win over parameters, parameters over wildcards.
/// Build it before the server starts; lookups are read-only and shared by every loop.
///
/// Empty segments are ignored, so `/health/` matches `/health`. Segments are matched before
/// percent-decoding, so an encoded `/` (`%2F`) stays inside one parameter.
public final class Router: @unchecked Sendable {
  final class Node {
    var literals: [(segment: [UInt8], node: Node)] = []
    var parameter: (name: Unmanaged<NameBox>, node: Node)? = nil
    var wildcard: (name: Unmanaged<NameBox>, node: Node)? = nil
    /// Keeps the boxes the two fields above name without retaining them on every request.
    var names: [NameBox] = []

    func box(_ name: String) -> Unmanaged<NameBox> {
      let box = NameBox(name)
      names.append(box)
      return Unmanaged.passUnretained(box)
    }
    var handlers: [Route] = []
  }

  /// One method's handler at a node. A class, not a tuple in the array: a closure stored in an
  /// array's generic storage is kept at its most general representation, and taking it out for
  /// a call allocated a reabstraction thunk on every request.
  final class Route {
    let method: HTTPMethod
    let pattern: String
    let handler: HTTPHandler
    init(method: HTTPMethod, pattern: String, handler: @escaping HTTPHandler) {
      self.method = method
      self.pattern = pattern
      self.handler = handler
    }
  }

  /// A parameter's name, referred to (unretained) from the search's stack memory.
  final class NameBox {
    let name: String
    init(_ name: String) { self.name = name }
  }

  /// The outcome of a lookup.
  public enum Match {
    case found(HTTPHandler, pattern: String, PathParameters)
    /// The path exists for other methods: answer 405 with `Allow`.
    case methodNotAllowed(allowed: [HTTPMethod])
    case notFound
    /// The path is not valid (bad percent-encoding, not origin-form).
    case badPath(String)
  }

  private let root = Node()

  public init() {}

  /// Adds a route. A pattern is a path like `/features/:entity/:id` or `/static/*path`.
  public func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping HTTPHandler) {
    var node = root
    for segment in pattern.split(separator: "/", omittingEmptySubsequences: true) {
      if segment.hasPrefix(":") {
        let name = String(segment.dropFirst())
        if let existing = node.parameter {
          let existingName = existing.name.takeUnretainedValue().name
          precondition(
            existingName == name, "conflicting parameter names :\(existingName) and :\(name) in \(pattern)")
          node = existing.node
        } else {
          let child = Node()
          node.parameter = (node.box(name), child)
          node = child
        }
      } else if segment.hasPrefix("*") {
        let child = node.wildcard?.node ?? Node()
        node.wildcard = (node.box(String(segment.dropFirst())), child)
        node = child
        break
      } else {
        let bytes = Array(segment.utf8)
        if let existing = node.literals.first(where: { $0.segment == bytes }) {
          node = existing.node
        } else {
          let child = Node()
          node.literals.append((bytes, child))
          node = child
        }
      }
    }
    node.handlers.removeAll { $0.method == method }
    node.handlers.append(Route(method: method, pattern: pattern, handler: handler))
  }

  public func get(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.get, pattern, handler) }
  public func post(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.post, pattern, handler) }
  public func put(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.put, pattern, handler) }
  public func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.delete, pattern, handler) }

  /// Finds the handler for a method and a request target (query string allowed; it is ignored).
  public func match(_ method: HTTPMethod, target: String) -> Match {
    var path = target
    if path.utf8.first != UInt8(ascii: "/") {
      // absolute-form (RFC 9112 §3.2.2): drop the scheme and authority.
      var withoutQuery = Substring(path)
      if let question = withoutQuery.utf8.firstIndex(of: UInt8(ascii: "?")) {
        withoutQuery = withoutQuery[..<question]
      }
      guard let origin = Router.pathOfAbsoluteForm(withoutQuery) else {
        return .badPath("request target is not a path")
      }
      path = String(origin)
    }
    // On the path's bytes, not through String indices: this runs for every request.
    return path.withUTF8 { match(method, path: $0) }
  }

  /// A parameter or wildcard the search captured: its name (the route's) and its bytes.
  private struct Capture {
    var name: Unmanaged<NameBox>
    var start: Int
    var end: Int
  }

  /// Runs for every request: no array is made for the segments or the captures (the search walks
  /// the path's bytes, captures go to stack memory), only the parameters' values become Strings.
  private func match(_ method: HTTPMethod, path bytes: UnsafeBufferPointer<UInt8>) -> Match {
    var end = bytes.count
    var slashes = 0
    for index in 0..<bytes.count {
      let byte = bytes[index]
      if byte == UInt8(ascii: "?") {
        end = index
        break
      }
      if byte == UInt8(ascii: "/") { slashes += 1 }
    }
    // Where the last segment ends: what a wildcard captures to (trailing slashes are not part of it).
    var lastSegmentEnd = end
    while lastSegmentEnd > 0 && bytes[lastSegmentEnd - 1] == UInt8(ascii: "/") { lastSegmentEnd -= 1 }
    // At most one capture per segment (a path of n slashes has at most n + 1 segments) and one
    // for a wildcard matched at the end.
    return withUnsafeTemporaryAllocation(of: Capture.self, capacity: slashes + 2) { captures in
      var captured = 0
      guard
        let node = Router.find(
          root, from: 0, end: end, lastSegmentEnd: lastSegmentEnd, in: bytes, captures, &captured)
      else { return .notFound }
      var parameters = PathParameters()
      for capture in captures[..<captured] {
        let raw = UnsafeBufferPointer(rebasing: bytes[capture.start..<capture.end])
        let name = capture.name.takeUnretainedValue().name
        let text = String(decoding: raw, as: UTF8.self)
        guard raw.contains(UInt8(ascii: "%")) else {
          parameters.append(name: name, value: text)
          continue
        }
        guard let value = PercentDecoding.decode(text) else {
          return .badPath("malformed percent-encoding in the path")
        }
        parameters.append(name: name, value: value)
      }
      for entry in node.handlers where entry.method == method {
        return .found(entry.handler, pattern: entry.pattern, parameters)
      }
      if method == .head {
        for entry in node.handlers where entry.method == .get {
          return .found(entry.handler, pattern: entry.pattern, parameters)
        }
      }
      var allowed = node.handlers.map(\.method)
      if allowed.contains(.get) && !allowed.contains(.head) { allowed.append(.head) }
      return .methodNotAllowed(allowed: allowed)
    }
  }

  /// Depth-first search from byte `position`: literal, then parameter, then wildcard,
  /// backtracking when a branch has no handlers for the remaining segments. Empty segments
  /// (repeated slashes) are skipped.
  private static func find(
    _ node: Node, from position: Int, end: Int, lastSegmentEnd: Int, in path: UnsafeBufferPointer<UInt8>,
    _ captures: UnsafeMutableBufferPointer<Capture>, _ captured: inout Int
  ) -> Node? {
    var start = position
    while start < end && path[start] == UInt8(ascii: "/") { start += 1 }
    guard start < end else {
      if !node.handlers.isEmpty { return node }
      if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty {
        captures[captured] = Capture(name: wildcard.name, start: 0, end: 0)
        captured += 1
        return wildcard.node
      }
      return nil
    }
    var segmentEnd = start
    while segmentEnd < end && path[segmentEnd] != UInt8(ascii: "/") { segmentEnd += 1 }
    if let literal = node.literals.first(where: { same($0.segment, path, start..<segmentEnd) }),
      let found = find(
        literal.node, from: segmentEnd, end: end, lastSegmentEnd: lastSegmentEnd, in: path, captures, &captured)
    {
      return found
    }
    if let parameter = node.parameter {
      captures[captured] = Capture(name: parameter.name, start: start, end: segmentEnd)
      captured += 1
      if let found = find(
        parameter.node, from: segmentEnd, end: end, lastSegmentEnd: lastSegmentEnd, in: path, captures, &captured)
      {
        return found
      }
      captured -= 1
    }
    if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty {
      captures[captured] = Capture(name: wildcard.name, start: start, end: lastSegmentEnd)
      captured += 1
      return wildcard.node
    }
    return nil
  }

  private static func same(_ literal: [UInt8], _ path: UnsafeBufferPointer<UInt8>, _ segment: Range<Int>) -> Bool {
    literal.count == segment.count
      && literal.withUnsafeBytes { memcmp($0.baseAddress!, path.baseAddress! + segment.lowerBound, segment.count) == 0 }
  }

  private static func pathOfAbsoluteForm(_ target: Substring) -> Substring? {
    for scheme in ["http://", "https://"] where target.lowercased().hasPrefix(scheme) {
      let afterScheme = target.dropFirst(scheme.count)
      guard let slash = afterScheme.firstIndex(of: "/") else { return "/" }
      return afterScheme[slash...]
    }
    return nil
  }
}
