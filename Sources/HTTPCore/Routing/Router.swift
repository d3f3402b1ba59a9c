import Codecs

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
    var parameter: (name: String, node: Node)? = nil
    var wildcard: (name: String, node: Node)? = nil
    var handlers: [(method: HTTPMethod, pattern: String, handler: HTTPHandler)] = []
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
          precondition(
            existing.name == name, "conflicting parameter names :\(existing.name) and :\(name) in \(pattern)")
          node = existing.node
        } else {
          let child = Node()
          node.parameter = (name, child)
          node = child
        }
      } else if segment.hasPrefix("*") {
        let child = node.wildcard?.node ?? Node()
        node.wildcard = (String(segment.dropFirst()), child)
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
    node.handlers.append((method, pattern, handler))
  }

  public func get(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.get, pattern, handler) }
  public func post(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.post, pattern, handler) }
  public func put(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.put, pattern, handler) }
  public func delete(_ pattern: String, _ handler: @escaping HTTPHandler) { on(.delete, pattern, handler) }

  /// Finds the handler for a method and a request target (query string allowed; it is ignored).
  public func match(_ method: HTTPMethod, target: String) -> Match {
    var utf8 = target.utf8[...]
    if let question = utf8.firstIndex(of: UInt8(ascii: "?")) { utf8 = utf8[..<question] }
    if utf8.first != UInt8(ascii: "/") {
      // absolute-form (RFC 9112 §3.2.2): drop the scheme and authority.
      guard let path = Router.pathOfAbsoluteForm(Substring(utf8)) else {
        return .badPath("request target is not a path")
      }
      utf8 = path.utf8[...]
    }
    var segments: [Substring.UTF8View.SubSequence] = []
    var rest = utf8
    while true {
      while rest.first == UInt8(ascii: "/") { rest = rest.dropFirst() }
      if rest.isEmpty { break }
      let end = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
      segments.append(rest[..<end])
      rest = rest[end...]
    }
    var captured: [(name: String, raw: Substring)] = []
    guard let node = Router.find(root, segments[...], in: utf8, &captured) else { return .notFound }
    var parameters = PathParameters()
    for capture in captured {
      guard let value = PercentDecoding.decode(capture.raw) else {
        return .badPath("malformed percent-encoding in the path")
      }
      parameters.items.append((name: capture.name, value: value))
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

  /// Depth-first search: literal, then parameter, then wildcard, backtracking when a branch
  /// has no handlers for the remaining segments.
  private static func find(
    _ node: Node, _ segments: ArraySlice<Substring.UTF8View.SubSequence>, in path: Substring.UTF8View,
    _ captured: inout [(name: String, raw: Substring)]
  ) -> Node? {
    guard let segment = segments.first else {
      if !node.handlers.isEmpty { return node }
      if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty {
        captured.append((wildcard.name, ""))
        return wildcard.node
      }
      return nil
    }
    let rest = segments.dropFirst()
    if let literal = node.literals.first(where: { $0.segment.elementsEqual(segment) }),
      let found = find(literal.node, rest, in: path, &captured)
    {
      return found
    }
    if let parameter = node.parameter {
      captured.append((parameter.name, Substring(segment)))
      if let found = find(parameter.node, rest, in: path, &captured) { return found }
      captured.removeLast()
    }
    if let wildcard = node.wildcard, !wildcard.node.handlers.isEmpty, let last = segments.last {
      let whole = Substring(path[segment.startIndex..<last.endIndex])
      captured.append((wildcard.name, whole))
      return wildcard.node
    }
    return nil
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
